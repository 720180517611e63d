package integration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/redisstore"
	"github.com/amojwt/amojwt/verifier"
)

// The rule these tests prove (SPEC §5): a store holds a nonce at least as
// long as the verifier would accept the token that carries it, whatever the
// leeway (whole seconds or not), the token's lifetime and the claims'
// fractions of a second. The verifier compares whole seconds (SPEC §3 row
// 9), the stores keep milliseconds (Redis) or whole seconds (memory): a
// bound off by the leeway's fraction let a used token be accepted again.

// expiryLeeways are leeways of every kind: zero, whole seconds, fractions
// above and below a half, and a nanosecond over a whole second.
var expiryLeeways = []time.Duration{
	0, time.Nanosecond, time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond,
	time.Second, 1500 * time.Millisecond, 2500 * time.Millisecond, 5 * time.Second,
	5*time.Second + time.Nanosecond, 7300 * time.Millisecond,
}

// expiryClaims are (iat fraction, lifetime) pairs: integer and fractional
// NumericDates, lifetimes from none to the largest accepted (300 s).
var expiryClaims = []struct{ iatFrac, lifetime float64 }{
	{0, 0}, {0, 1}, {0, 60}, {0, 300}, {0.25, 0.5}, {0.999, 1}, {0.5, 59.9}, {0.75, 300},
}

// expiryToken signs a token for testIssuer with jti and the NumericDates
// iat and exp, written as JSON numbers with their fractions.
func expiryToken(jti string, iat, exp float64) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	claims := fmt.Sprintf(`{"iss":%q,"jti":%q,"iat":%s,"exp":%s}`, testIssuer, jti, num(iat), num(exp))
	return jwttest.Sign(`{"alg":"HS256","typ":"JWT"}`, claims, []byte(hostileSecret))
}

// virtualClock is a clock a test sets.
type virtualClock struct{ ns atomic.Int64 }

func (c *virtualClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *virtualClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// newVirtualClock returns a clock set to s seconds since the Unix epoch.
func newVirtualClock(s float64) *virtualClock {
	c := new(virtualClock)
	c.Set(secondsTime(s))
	return c
}

// secondsTime is s seconds since the Unix epoch.
func secondsTime(s float64) time.Time { return time.Unix(0, int64(s*1e9)) }

// acceptedInstants calls visit with the instants from use on, in order, at
// which a verifier without replay checks (the same keys and leeway, its own
// clock) accepts token, until it refuses it as expired: three in each
// second (its start, its middle and its last nanosecond), which covers
// every answer, as the verifier reads whole seconds. Before the first, the
// token may be issued in the future (a fractional iat). It fails t if the
// token is still accepted an hour on.
func acceptedInstants(t *testing.T, leeway time.Duration, token string, use time.Time, visit func(at time.Time)) {
	t.Helper()
	clock := new(virtualClock)
	reuse, err := verifier.New(newHostileKeys(t), verifier.WithReplay(verifier.ReplayAllow), verifier.WithLeeway(leeway), verifier.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	sec := use.Truncate(time.Second)
	visited := false
	for range 3600 {
		for _, at := range []time.Time{sec, sec.Add(time.Second / 2), sec.Add(time.Second - 1)} {
			if at.Before(use) {
				continue
			}
			clock.Set(at)
			switch _, err := reuse.Verify(context.Background(), token); {
			case err == nil:
				visited = true
				visit(at)
			case errors.Is(err, verifier.ErrExpired):
				return
			case visited || !errors.Is(err, verifier.ErrIssuedInFuture):
				t.Fatalf("at %v: %v, want accepted or expired", at, err)
			}
		}
		sec = sec.Add(time.Second)
	}
	t.Fatalf("token still accepted an hour after %v", use)
}

// TestMemoryStoreHoldsNonceWhileAccepted drives a verifier and its memory
// store with one virtual clock: at every instant the token would still be
// accepted, its replay is refused.
func TestMemoryStoreHoldsNonceWhileAccepted(t *testing.T) {
	t.Parallel()
	const base = 1_700_000_000
	for _, leeway := range expiryLeeways {
		for i, c := range expiryClaims {
			t.Run(fmt.Sprintf("leeway=%v/claims=%d", leeway, i), func(t *testing.T) {
				t.Parallel()
				iat := base + c.iatFrac
				token := expiryToken("n", iat, iat+c.lifetime)
				clock := newVirtualClock(iat)
				store, err := noncestore.NewMemory(noncestore.WithClock(clock.Now))
				if err != nil {
					t.Fatal(err)
				}
				v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store),
					verifier.WithLeeway(leeway), verifier.WithClock(clock.Now))
				if err != nil {
					t.Fatal(err)
				}
				used := false
				acceptedInstants(t, leeway, token, clock.Now(), func(at time.Time) {
					clock.Set(at)
					_, err := v.Verify(context.Background(), token)
					switch {
					case !used && err == nil:
						used = true
					case !used:
						t.Fatalf("first use at %v: %v", at, err)
					case !errors.Is(err, verifier.ErrReplayed):
						t.Fatalf("replay at %v, while the token is accepted: %v, want replayed", at, err)
					}
				})
			})
		}
	}
}

// TestRedisStoreHoldsNonceWhileAccepted checks the Redis store's bound
// without waiting for it: the key's absolute expiry (PEXPIRETIME, by the
// server's clock, which Redis compares in milliseconds: the key lives
// while now <= PEXPIRETIME) is at or after every instant at which the
// token would still be accepted. The verifier's clock is the real one,
// moved forward, so the store sends the PXAT it would send in service.
func TestRedisStoreHoldsNonceWhileAccepted(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client, err := redisstore.NewClient("redis://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	base := float64(time.Now().Unix() + 10)
	for li, leeway := range expiryLeeways {
		for ci, c := range expiryClaims {
			t.Run(fmt.Sprintf("leeway=%v/claims=%d", leeway, ci), func(t *testing.T) {
				t.Parallel()
				prefix := fmt.Sprintf("expiry:%d:%d:", li, ci)
				// The guard off: a fresh Redis's epoch would refuse these
				// tokens, and it is not what this test is about.
				store, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix),
					redisstore.WithResetGuard(false), redisstore.WithTimeout(10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				iat := base + c.iatFrac
				token := expiryToken("n", iat, iat+c.lifetime)
				clock := newVirtualClock(iat)
				v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store),
					verifier.WithLeeway(leeway), verifier.WithClock(clock.Now))
				if err != nil {
					t.Fatal(err)
				}
				var expires int64 // the key's PEXPIRETIME, once used
				acceptedInstants(t, leeway, token, clock.Now(), func(at time.Time) {
					if expires == 0 {
						clock.Set(at)
						if _, err := v.Verify(context.Background(), token); err != nil {
							t.Fatalf("first use at %v: %v", at, err)
						}
						keys := strings.Fields(srv.Do("KEYS", prefix+"*"))
						if len(keys) != 1 {
							t.Fatalf("KEYS %s* = %q, want the one nonce key", prefix, keys)
						}
						var err error
						if expires, err = strconv.ParseInt(srv.Do("PEXPIRETIME", keys[0]), 10, 64); err != nil {
							t.Fatal(err)
						}
					}
					if at.UnixMilli() > expires {
						t.Fatalf("accepted at %v, but the key expires at %v", at, time.UnixMilli(expires))
					}
				})
			})
		}
	}
}

// TestRedisReplayAfterFractionalLeeway is the attack, in real time: with a
// leeway of 2.5 s, a used token is replayed every 100 ms until it expires;
// every replay must be refused.
func TestRedisReplayAfterFractionalLeeway(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client, err := redisstore.NewClient("redis://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store, err := redisstore.New(client, redisstore.WithResetGuard(false), redisstore.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	const leeway = 2500 * time.Millisecond
	v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store), verifier.WithLeeway(leeway))
	if err != nil {
		t.Fatal(err)
	}
	exp := float64(time.Now().Unix() + 1)
	token := expiryToken("replayed-late", exp-1, exp)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	replays := 0
	for ; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, err := v.Verify(context.Background(), token)
		if errors.Is(err, verifier.ErrExpired) {
			t.Logf("%d replays refused before the token expired", replays)
			return
		}
		if !errors.Is(err, verifier.ErrReplayed) {
			t.Fatalf("replay %d, %v after exp: %v, want replayed", replays,
				time.Since(secondsTime(exp)).Round(time.Millisecond), err)
		}
		replays++
	}
	t.Fatal("the token did not expire within 10 s")
}
