package integration

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// countingStore counts the claims that reach the nonce store it wraps, so a
// test can tell that a refused token never touched it (SPEC §5).
type countingStore struct {
	noncestore.Store
	claims atomic.Int64
}

func (s *countingStore) Claim(ctx context.Context, issuer, nonce string, until time.Time) (time.Time, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, issuer, nonce, until)
}

// errInjected is the failure faultyStore returns while its fault is on.
var errInjected = errors.New("integration: injected store failure")

// faultyStore fails every call with err while fail is set, and otherwise
// passes calls to the store it wraps: a nonce store that breaks and
// recovers without a restart (SPEC §7).
type faultyStore struct {
	noncestore.Store
	fail atomic.Bool
	err  error
}

func (s *faultyStore) Claim(ctx context.Context, issuer, nonce string, until time.Time) (time.Time, error) {
	if s.fail.Load() {
		return time.Time{}, s.err
	}
	return s.Store.Claim(ctx, issuer, nonce, until)
}

func (s *faultyStore) Ping(ctx context.Context) (time.Time, error) {
	if s.fail.Load() {
		return time.Time{}, s.err
	}
	return s.Store.Ping(ctx)
}

// countingKeys counts key lookups: a token refused before its issuer is
// looked up was refused before any HMAC work, which needs the key.
type countingKeys struct {
	verifier.KeyStore
	lookups atomic.Int64
}

func (k *countingKeys) Lookup(ctx context.Context, issuer string) (*verifier.Key, error) {
	k.lookups.Add(1)
	return k.KeyStore.Lookup(ctx, issuer)
}
