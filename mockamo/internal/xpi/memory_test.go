package xpi_test

import (
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/amojwt/amojwt/mockamo/internal/xpi"
	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// allocatedDuring returns the bytes the heap allocated while f ran (the
// MemStats.TotalAlloc difference), a bound on how much f's peak heap
// grew.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileArchiveMemory validates archives whose central directory
// would make archive/zip build one entry per 46 bytes (196615 entries in
// 9 MiB, declared as 7 modulo 65536) while their trailer hides them from
// a naive count, one at a time and eight at once, and bounds what the
// validations allocate. It does not run in parallel with other tests,
// whose allocations would count.
func TestHostileArchiveMemory(t *testing.T) {
	const entries = 3<<16 + 7
	// What one validation may allocate: findings and the checker, not
	// one byte per entry of the archive.
	const perValidation = 256 << 10
	lim := xpi.Limits{MaxEntries: 4096, MaxUncompressedBytes: 256 << 20, MaxManifestBytes: 1 << 20}
	tests := []struct {
		name string
		data []byte
	}{
		{"stray end signature", ziptest.TinyHeaders(entries)},
		{"zip64 size quirk", ziptest.Zip64SizeQuirk(entries - 1)},
	}
	newUID := func() string { return "0123456789abcdef0123456789abcdef" }
	for _, tt := range tests {
		for _, atOnce := range []int{1, 8} {
			var codes [][]string
			var mu sync.Mutex
			allocated := allocatedDuring(func() {
				var wg sync.WaitGroup
				for range atOnce {
					wg.Go(func() {
						v, _ := xpi.Validate(tt.data, "hostile.zip", false, lim, newUID)
						mu.Lock()
						defer mu.Unlock()
						var ids []string
						for _, m := range v.Messages {
							ids = append(ids, m.ID...)
						}
						codes = append(codes, ids)
					})
				}
				wg.Wait()
			})
			t.Logf("%s, %d at once: %d bytes allocated", tt.name, atOnce, allocated)
			if allocated > uint64(atOnce)*perValidation {
				t.Errorf("%s, %d at once: %d bytes allocated, want at most %d", tt.name, atOnce, allocated, atOnce*perValidation)
			}
			for _, c := range codes {
				if !slices.Equal(c, []string{"ZIP_LIMIT_EXCEEDED"}) {
					t.Errorf("%s: findings %v, want ZIP_LIMIT_EXCEEDED", tt.name, c)
				}
			}
		}
	}
}
