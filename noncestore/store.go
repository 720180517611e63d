// Package noncestore remembers the JWT ID (jti) values that a verifier has
// accepted, so that a token carrying a jti is good for one request only
// (SPEC §5).
//
// A Store keeps (issuer, nonce, until) triples; it knows nothing of JWTs.
// The in-memory store (NewMemory), the embedded default for one process,
// ships here; the Redis store, shared by every process that talks to the
// same Redis standalone server, Sentinel group or Cluster, is package
// github.com/amojwt/amojwt/redisstore, so that a program that does not use
// Redis links no Redis client. The memory store can keep its nonces across
// a graceful restart in a state file (WithStateFile). Package
// noncestore/storetest is the conformance suite every store passes; run it
// on a store of your own.
package noncestore

import (
	"context"
	"errors"
	"time"
)

// ErrReplayed is returned by Store.Claim when the (issuer, nonce) pair is
// already held: the token was used before (SPEC §3 row 15).
var ErrReplayed = errors.New("noncestore: nonce already used")

// ErrUnavailable is wrapped by every error that means the store could not
// give an answer: unreachable, timed out, full, or failing. Callers fail
// closed on it (SPEC §7): the request gets a 503, never an unchecked accept.
var ErrUnavailable = errors.New("noncestore: store unavailable")

// Store records nonces until the tokens that carry them expire.
//
// Implementations must be safe for concurrent use, and Claim must be atomic:
// of N concurrent claims of one (issuer, nonce) pair exactly one succeeds.
// Every method must return within a bounded time of its own (the verifier
// adds no timeout); a call that cannot complete returns an error wrapping
// ErrUnavailable.
type Store interface {
	// Claim records (issuer, nonce) until the wall-clock time until.
	//
	// It returns nil if the pair was not held, ErrReplayed if it was, or an
	// error wrapping ErrUnavailable. until is the first instant at which
	// the verifier refuses the token as expired (a whole second, SPEC §5):
	// the pair must be held at every instant before it; from it on, the
	// store may forget it. Package storetest checks all of this for any
	// Store. issuer and nonce are
	// arbitrary client-supplied bytes: they must not collide across issuers
	// ("a:b"+"c" is not "a"+"b:c") and must not choose where the entry is
	// stored.
	//
	// epoch is the moment the store started remembering (SPEC §5, reset
	// guard): a nonce used before epoch cannot be known to the store. A store
	// whose reset guard is off returns the zero time.Time. A store that
	// finds it has lost its memory (a flushed or replaced Redis) starts a
	// new epoch and returns it from the Claim that noticed.
	Claim(ctx context.Context, issuer, nonce string, until time.Time) (epoch time.Time, err error)

	// Ping reports whether the store can take claims now: nil, or an error
	// wrapping ErrUnavailable. It returns the epoch as Claim would, and a
	// store that has no epoch yet, or finds that it lost its memory,
	// starts one then, as a Claim would: a server pings its store when it
	// starts and in readiness probes (/readyz), and so knows from when on
	// the tokens signed pass the reset guard (SPEC §5).
	Ping(ctx context.Context) (epoch time.Time, err error)
}
