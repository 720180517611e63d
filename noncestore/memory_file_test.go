package noncestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// newFileTest returns a store on a test clock reading t0 that keeps its
// nonces in path.
func newFileTest(t *testing.T, path string, t0 time.Time, opts ...MemoryOption) (*Memory, *memTestClock) {
	t.Helper()
	return newMemTest(t, t0, append([]MemoryOption{WithStateFile(path)}, opts...)...)
}

func TestMemoryStateFileRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nonces")
	ctx := context.Background()

	// First start: no file, so a new epoch and the guard on.
	m, _ := newFileTest(t, path, memT0)
	epoch, err := m.Claim(ctx, "user:1:1", "short", memT0.Add(10*time.Second))
	if err != nil || !epoch.Equal(memT0) {
		t.Fatalf("first claim = %v, %v; want nil and the epoch %v (no file: a new epoch)", epoch, err, memT0)
	}
	for i := range 1000 {
		if _, err := m.Claim(ctx, "user:1:1", strconv.Itoa(i), memT0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 ||
		info.Size() != stateHeader+1001*stateEntry+stateTrailer {
		t.Fatalf("state file: %v, %v; want mode 0600 and %d bytes", info, err, stateHeader+1001*stateEntry+stateTrailer)
	}
	if _, err := m.Claim(ctx, "user:1:1", "after close", memT0.Add(time.Hour)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("claim after Close = %v, want ErrUnavailable", err)
	}
	if _, err := m.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping after Close = %v, want ErrUnavailable", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	// Restart 20 s on: the nonces held are replays, the one that expired
	// meanwhile is free, the epoch is kept, the file is gone.
	restarted := memT0.Add(20 * time.Second)
	m2, _ := newFileTest(t, path, restarted)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state file is still there after it was read: %v", err)
	}
	for _, i := range []int{0, 500, 999} {
		if _, err := m2.Claim(ctx, "user:1:1", strconv.Itoa(i), restarted.Add(time.Hour)); !errors.Is(err, ErrReplayed) {
			t.Errorf("claim %d after the restart = %v, want ErrReplayed", i, err)
		}
	}
	epoch, err = m2.Claim(ctx, "user:1:1", "short", restarted.Add(time.Hour))
	if err != nil || !epoch.Equal(memT0) {
		t.Errorf("claim of the expired nonce = %v, %v; want nil and the saved epoch %v", epoch, err, memT0)
	}
	if got := memOccupied(m2); got != 1001 {
		t.Errorf("%d slots used after the restart, want 1001", got)
	}

	// A crash (no Close): the next start finds no file, and starts a new
	// epoch with the guard on.
	crashed := restarted.Add(time.Minute)
	m3, _ := newFileTest(t, path, crashed)
	epoch, err = m3.Claim(ctx, "user:1:1", "0", crashed.Add(time.Hour))
	if err != nil || !epoch.Equal(crashed) {
		t.Errorf("claim after a crash = %v, %v; want nil and a new epoch %v", epoch, err, crashed)
	}
}

func TestMemoryStateFileGuardOff(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nonces")
	ctx := context.Background()
	// A file written by a store whose guard was off (a store that never
	// lost its memory since it was first made without a file).
	m, _ := newMemTest(t, memT0)
	m.stateFile = path
	if _, err := m.Claim(ctx, "i", "n", memT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2, _ := newFileTest(t, path, memT0.Add(time.Second))
	if epoch, err := m2.Claim(ctx, "i", "n", memT0.Add(time.Hour)); !errors.Is(err, ErrReplayed) || !epoch.IsZero() {
		t.Errorf("claim after the restart = %v, %v; want ErrReplayed and the zero epoch", epoch, err)
	}
}

// TestMemoryStateFileCloseDuringClaims: every claim that succeeded before
// Close is in the saved file, however Close and the claims interleave.
func TestMemoryStateFileCloseDuringClaims(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nonces")
	ctx := context.Background()
	m, _ := newFileTest(t, path, memT0)
	var wg sync.WaitGroup
	won := make([][]string, 4)
	for g := range won {
		wg.Go(func() {
			for i := 0; ; i++ {
				nonce := fmt.Sprint(g, "-", i)
				_, err := m.Claim(ctx, "i", nonce, memT0.Add(time.Hour))
				if err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Error(err)
					}
					return
				}
				won[g] = append(won[g], nonce)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	m2, _ := newFileTest(t, path, memT0)
	total := 0
	for _, nonces := range won {
		for _, n := range nonces {
			total++
			if _, err := m2.Claim(ctx, "i", n, memT0.Add(time.Hour)); !errors.Is(err, ErrReplayed) {
				t.Fatalf("nonce %s, claimed before Close: after the restart %v, want ErrReplayed", n, err)
			}
		}
	}
	if total == 0 {
		t.Fatal("no claim succeeded before Close")
	}
}

func TestMemoryStateFileCorrupt(t *testing.T) {
	t.Parallel()
	// good writes a state file of three live nonces and returns its bytes.
	good := func(t *testing.T) []byte {
		path := filepath.Join(t.TempDir(), "nonces")
		m, _ := newFileTest(t, path, memT0)
		for i := range 3 {
			if _, err := m.Claim(context.Background(), "i", strconv.Itoa(i), memT0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 1; return b }
	}
	tests := []struct {
		name     string
		mangle   func([]byte) []byte
		capacity int
	}{
		{"empty", func([]byte) []byte { return nil }, 0},
		{"truncated in the header", func(b []byte) []byte { return b[:20] }, 0},
		{"an entry cut short", func(b []byte) []byte { return b[:len(b)-1] }, 0},
		{"a byte appended", func(b []byte) []byte { return append(b, 0) }, 0},
		{"an entry appended", func(b []byte) []byte { return append(b, make([]byte, stateEntry)...) }, 0},
		{"magic", flip(0), 0},
		{"version", flip(8), 0},
		{"hash key", flip(16), 0},
		{"epoch", flip(32), 0},
		{"a nonce's hash", flip(stateHeader + 3), 0},
		{"a nonce's expiry", flip(stateHeader + 16), 0},
		{"count", flip(stateHeader + 3*stateEntry), 0},
		{"checksum", flip(stateHeader + 3*stateEntry + 8), 0},
		{"more nonces than the capacity", func(b []byte) []byte { return b }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "nonces")
			data := tt.mangle(good(t))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			opts := []MemoryOption{WithStateFile(path)}
			if tt.capacity > 0 {
				opts = append(opts, WithCapacity(tt.capacity))
			}
			m, err := NewMemory(opts...)
			if !errors.Is(err, ErrCorruptState) || m != nil {
				t.Fatalf("NewMemory = %v, %v; want ErrCorruptState", m, err)
			}
			if _, serr := os.Stat(path); serr != nil {
				t.Errorf("the corrupt file is gone: %v", serr)
			}
			t.Logf("%v", err)
		})
	}
}

func TestMemoryStateFileUnwritable(t *testing.T) {
	t.Parallel()
	m, _ := newFileTest(t, filepath.Join(t.TempDir(), "no such directory", "nonces"), memT0)
	if err := m.Close(); err == nil {
		t.Error("Close into a missing directory = nil, want an error")
	}
}
