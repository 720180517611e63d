package xpi

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/amojwt/amojwt/mockamo/internal/ziptest"
)

// archive returns a zip of n empty entries.
func archive(t testing.TB, n int) []byte {
	t.Helper()
	pairs := make([]string, 0, 2*n)
	for i := range n {
		pairs = append(pairs, "f"+strconv.Itoa(i), "")
	}
	return ziptest.Of(t, pairs...)
}

// checkAgainstZip fails t unless entryBound's answer for data and limit
// is safe for what archive/zip does with data: an archive it opens is
// readable, and its entries are counted, at least up to past the limit.
func checkAgainstZip(t *testing.T, data []byte, limit, n int, readable bool) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	entries := len(zr.File)
	switch {
	case !readable:
		t.Errorf("limit %d: archive/zip opens it with %d entries, entryBound says unreadable", limit, entries)
	case entries > limit && n <= limit:
		t.Errorf("limit %d: archive/zip builds %d entries, entryBound counts %d", limit, entries, n)
	case entries <= limit && n < entries:
		t.Errorf("limit %d: archive/zip builds %d entries, entryBound counts %d", limit, entries, n)
	}
}

// hostileSeeds are archives built to hide their entries from a counter
// that does not find the directory as archive/zip does.
func hostileSeeds(t testing.TB) map[string][]byte {
	ten := archive(t, 10)
	tenEnd := bytes.LastIndex(ten, []byte("PK\x05\x06"))
	// The end record's entry counts (2 bytes each, at 8 and 10) claim 2:
	// archive/zip only checks them modulo 65536.
	lying := bytes.Clone(ten)
	binary.LittleEndian.PutUint16(lying[tenEnd+8:], 2)
	binary.LittleEndian.PutUint16(lying[tenEnd+10:], 2)
	// A zip64 end record and locator between the directory and the end
	// record, pointing away from the directory: archive/zip ignores them
	// while the end record's fields do not say zip64.
	fake64 := make([]byte, lenEnd64+lenEnd64Locator)
	binary.LittleEndian.PutUint32(fake64, sigEnd64)
	binary.LittleEndian.PutUint64(fake64[48:], 1) // directory offset: not a header
	loc := fake64[lenEnd64:]
	binary.LittleEndian.PutUint32(loc, sigEnd64Locator)
	binary.LittleEndian.PutUint64(loc[8:], uint64(tenEnd))
	binary.LittleEndian.PutUint32(loc[16:], 1)
	stray64 := append(append(bytes.Clone(ten[:tenEnd]), fake64...), ten[tenEnd:]...)
	// A whole end record appended whose comment runs past the file:
	// archive/zip stops at it and refuses the archive.
	truncatedComment := append(bytes.Clone(ten), ten[tenEnd:]...)
	binary.LittleEndian.PutUint16(truncatedComment[len(truncatedComment)-2:], 100)
	return map[string][]byte{
		"ten entries":          ten,
		"data prepended":       append(bytes.Repeat([]byte("x"), 1000), ten...),
		"declared count lies":  lying,
		"stray zip64 records":  stray64,
		"truncated comment":    truncatedComment,
		"stray end signature":  ziptest.TinyHeaders(1000),
		"zip64 size quirk":     ziptest.Zip64SizeQuirk(1000),
		"empty archive":        archive(t, 0),
		"no end record":        []byte("not a zip"),
		"truncated end record": ten[:len(ten)-5],
	}
}

func TestEntryBound(t *testing.T) {
	t.Parallel()
	seeds := hostileSeeds(t)
	// Counts declared modulo 65536 within the limit: only walking the
	// directory finds the entries.
	seeds["stray end signature, count modulo 65536"] = ziptest.TinyHeaders(1<<16 + 50)
	seeds["zip64 size quirk, count modulo 65536"] = ziptest.Zip64SizeQuirk(1<<16 + 50)
	tests := []struct {
		name         string
		limit        int
		wantOver     bool
		wantReadable bool
	}{
		{"ten entries", 100, false, true},
		{"ten entries", 9, true, true},
		{"data prepended", 100, false, true},
		{"data prepended", 4, true, true},
		{"declared count lies", 4, true, true},
		{"stray zip64 records", 100, false, true},
		{"stray zip64 records", 4, true, true},
		{"truncated comment", 100, false, false},
		{"stray end signature", 100, true, true},
		{"zip64 size quirk", 100, true, true},
		{"zip64 size quirk", 2000, false, true},
		{"stray end signature, count modulo 65536", 100, true, true},
		{"zip64 size quirk, count modulo 65536", 100, true, true},
		{"empty archive", 0, false, true},
		{"no end record", 100, false, false},
		{"truncated end record", 100, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" limit "+strconv.Itoa(tt.limit), func(t *testing.T) {
			t.Parallel()
			data := seeds[tt.name]
			n, readable := entryBound(data, tt.limit)
			if (n > tt.limit) != tt.wantOver || readable != tt.wantReadable {
				t.Errorf("entryBound = %d, %v; want over %d %v, readable %v", n, readable, tt.limit, tt.wantOver, tt.wantReadable)
			}
			checkAgainstZip(t, data, tt.limit, n, readable)
		})
	}
}

// FuzzEntryBound checks entryBound against archive/zip itself: whatever
// the bytes, an archive archive/zip opens is never reported unreadable,
// and never has more entries than entryBound counts (up to the limit).
func FuzzEntryBound(f *testing.F) {
	for _, data := range hostileSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, limit := range []int{0, 1, 3, 1 << 20} {
			n, readable := entryBound(data, limit)
			checkAgainstZip(t, data, limit, n, readable)
		}
	})
}

func TestStripLineComments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		want      string
		wantBlock bool
	}{
		{"line comment", "{} // x\n", "{}     \n", false},
		{"slashes in a string", `{"a":"http://x"}`, `{"a":"http://x"}`, false},
		{"escaped quote in a string", `{"a":"\"//"} //c`, `{"a":"\"//"}    `, false},
		{"block comment", `{/* x */}`, "", true},
		{"block comment in a string", `{"a":"/* x */"}`, `{"a":"/* x */"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, block := stripLineComments([]byte(tt.in))
			if block != tt.wantBlock || (!block && string(got) != tt.want) {
				t.Errorf("got %q, %v; want %q, %v", got, block, tt.want, tt.wantBlock)
			}
		})
	}
}

func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantKey string
	}{
		{"none", `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, ""},
		{"top level", `{"a":1,"b":2,"a":3}`, "a"},
		{"nested", `{"a":{"x":[1,{"y":1,"y":2}]}}`, "y"},
		{"after a nested object", `{"a":{"b":1},"a":2}`, "a"},
		{"key equal to a value", `{"a":"b","b":"a"}`, ""},
		{"invalid JSON", `{"a":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, dup := duplicateKey([]byte(tt.in))
			if key != tt.wantKey || dup != (tt.wantKey != "") {
				t.Errorf("got %q, %v; want %q", key, dup, tt.wantKey)
			}
		})
	}
}
