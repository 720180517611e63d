package storetest_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// tableStore stands for a store on your own database: a table whose
// primary key is (issuer, nonce), with an expiry column. Each method is
// what one SQL statement would do in one transaction:
//
//	INSERT INTO nonces (issuer, nonce, until) VALUES ($1, $2, $3)
//	ON CONFLICT (issuer, nonce) DO UPDATE SET until = EXCLUDED.until
//	WHERE nonces.until <= now()
//
// inserts or takes over an expired row (claimed), or changes no row
// (replayed). Keying on the two columns, not on their concatenation, keeps
// issuers apart; a lost connection must become an error wrapping
// noncestore.ErrUnavailable.
type tableStore struct {
	mu     sync.Mutex
	rows   map[[2]string]time.Time
	now    func() time.Time
	epoch  time.Time // when the table was created: its reset guard
	closed bool      // the connection is gone
}

func newTableStore(now func() time.Time) *tableStore {
	return &tableStore{rows: map[[2]string]time.Time{}, now: now, epoch: now()}
}

func (s *tableStore) Claim(_ context.Context, issuer, nonce string, until time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return time.Time{}, fmt.Errorf("%w: table store: connection closed", noncestore.ErrUnavailable)
	}
	key := [2]string{issuer, nonce}
	if held, ok := s.rows[key]; ok && s.now().Before(held) {
		return s.epoch, noncestore.ErrReplayed
	}
	s.rows[key] = until
	return s.epoch, nil
}

func (s *tableStore) Ping(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return time.Time{}, fmt.Errorf("%w: table store: connection closed", noncestore.ErrUnavailable)
	}
	return s.epoch, nil
}

// A store of your own is a noncestore.Store: a claimed pair is held until
// until, and claimed again once forgotten. The test beside this example
// runs storetest.Run on it, as the package documentation shows.
func Example() {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	store := newTableStore(func() time.Time { return now })
	ctx := context.Background()
	until := now.Add(time.Minute)

	_, err := store.Claim(ctx, "user:1:1", "n", until)
	fmt.Println("first use:", err)
	_, err = store.Claim(ctx, "user:1:1", "n", until)
	fmt.Println("again:", err)
	now = until
	_, err = store.Claim(ctx, "user:1:1", "n", now.Add(time.Minute))
	fmt.Println("after until:", err)
	// Output:
	// first use: <nil>
	// again: noncestore: nonce already used
	// after until: <nil>
}
