package noncestore_test

import (
	"testing"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/noncestore/storetest"
)

// TestMemoryConformance runs the conformance suite on the memory store. A
// reset is a restart: a new store, whose epoch is its creation (the reset
// guard on).
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
		Reset: func(t *testing.T, _ noncestore.Store, clock *storetest.Clock) noncestore.Store {
			return newStore(t, clock)
		},
	})
}
