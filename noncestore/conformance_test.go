package noncestore_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/noncestore/storetest"
)

// closeMemory breaks a memory store: a closed store fails every call.
func closeMemory(t *testing.T, s noncestore.Store) {
	if err := s.(*noncestore.Memory).Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryConformance runs the conformance suite on the memory store: a
// reset is a restart, that is a new store, whose epoch is its creation
// (the reset guard on).
func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	newStore := func(t *testing.T, clock *storetest.Clock) noncestore.Store {
		m, err := noncestore.NewMemory(noncestore.WithClock(clock.Now), noncestore.WithResetGuard(true))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	storetest.Run(t, storetest.Harness{
		New:   newStore,
		Slack: time.Second, // expiry in whole seconds, rounded up
		Break: closeMemory,
		Reset: func(t *testing.T, _ noncestore.Store, clock *storetest.Clock) noncestore.Store {
			return newStore(t, clock)
		},
	})
}

// TestMemoryStateFileConformance runs the suite on memory stores that keep
// their nonces in a state file: a reset is a crash, a new process over
// the same file without a Close before.
func TestMemoryStateFileConformance(t *testing.T) {
	t.Parallel()
	var paths sync.Map // noncestore.Store -> its state file
	open := func(t *testing.T, clock *storetest.Clock, path string) noncestore.Store {
		m, err := noncestore.NewMemory(noncestore.WithClock(clock.Now), noncestore.WithStateFile(path))
		if err != nil {
			t.Fatal(err)
		}
		paths.Store(m, path)
		return m
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, clock *storetest.Clock) noncestore.Store {
			return open(t, clock, filepath.Join(t.TempDir(), "nonces"))
		},
		Slack: time.Second,
		Break: closeMemory,
		Reset: func(t *testing.T, s noncestore.Store, clock *storetest.Clock) noncestore.Store {
			path, _ := paths.Load(s)
			return open(t, clock, path.(string))
		},
	})
}
