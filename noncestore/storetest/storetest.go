// Package storetest is a conformance suite for noncestore.Store
// implementations, as testing/fstest is for file systems: Run checks that a
// store keeps the contract the verifier relies on (SPEC §5, §7). The memory
// store and the Redis store (package redisstore) run it; so can a store on
// your own database.
//
// To test a store of your own, give Run a Harness whose New returns a new,
// empty store for one test:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			New: func(t *testing.T, clock *storetest.Clock) noncestore.Store {
//				return newMyStore(t, clock.Now) // its own table, or key prefix
//			},
//			Slack: time.Second, // expiry kept in whole seconds, rounded up
//			Break: func(t *testing.T, s noncestore.Store) { ... }, // optional, as is Reset
//			Reset: func(t *testing.T, s noncestore.Store, clock *storetest.Clock) noncestore.Store { ... },
//		})
//	}
//
// What Run checks, each in a subtest of its own:
//
//   - claims: a new pair is claimed (nil), the same pair again is
//     ErrReplayed, the same nonce from another issuer or another nonce from
//     the same issuer is a new pair;
//   - atomic claims: of many concurrent claims of one pair exactly one
//     succeeds and the others are ErrReplayed, for several pairs at once;
//   - issuers apart: pairs whose concatenations are equal ("a:b"+"c" and
//     "a"+"b:c", "ab"+"" and "a"+"b") are different pairs;
//   - hostile bytes: NUL, invalid UTF-8, Redis Cluster hash tags ("{x}"),
//     CR LF, SQL and glob metacharacters, a 256-byte nonce (SPEC §3 row 13)
//     and a long issuer are stored and told apart like any other bytes;
//   - expiry: a pair is held until until (a claim just before is
//     ErrReplayed) and forgotten within Slack after it (a claim then is nil);
//   - epoch: Claim and Ping return the same epoch while the store keeps
//     its memory, and Ping answers nil on a store that takes claims;
//   - fail closed, with Break: once the store is broken, every Claim (of a
//     new pair or of one held before) and Ping returns an error wrapping
//     ErrUnavailable, never nil and never ErrReplayed, within a bounded time;
//   - the reset guard, with Reset: after the store lost its memory, a pair
//     held before can be claimed again and the claim returns an epoch later
//     than before, as does Ping.
//
// A store that keeps the expiry on a clock it is given (WithClock, for the
// memory store) reads the Clock that New receives, and the suite moves it;
// a store on another clock (a database server's) sets RealTime, and the
// expiry check then waits a few seconds of real time.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// Harness describes the stores Run checks.
type Harness struct {
	// New returns a new store that holds no pair, for one test; it may
	// register cleanups on t. Stores that can read a given clock read clock
	// (see RealTime). Required.
	New func(t *testing.T, clock *Clock) noncestore.Store

	// RealTime says that the stores ignore the Clock and expire pairs by
	// real time, as a database server does: the expiry check waits.
	RealTime bool

	// Slack is how long after until a store may still hold a pair: a
	// second for a store that keeps expiry in whole seconds rounded up, a
	// few milliseconds for one that keeps milliseconds. A pair must be
	// forgotten by until + Slack.
	Slack time.Duration

	// Break, when not nil, breaks s as an outage would (a server killed, a
	// store closed): from then on every call on s must fail closed.
	Break func(t *testing.T, s noncestore.Store)

	// Reset, when not nil, makes s lose its memory, as a flush or a restart
	// after a crash would, and returns the store that serves after it (s
	// itself, or a new store over the same storage, reading clock, the
	// Clock s was made with). The stores from New then have their reset
	// guard on: their epoch is not the zero time.
	Reset func(t *testing.T, s noncestore.Store, clock *Clock) noncestore.Store
}

// Clock is a clock a test moves: it starts at the real time and moves only
// when the suite says.
type Clock struct{ ns atomic.Int64 }

func newClock() *Clock {
	c := new(Clock)
	c.ns.Store(time.Now().UnixNano())
	return c
}

// Now returns the clock's time. Give it to the store as its clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// callBound is how long one store call may take before the suite calls
// it hung: the Store contract asks for a bounded time, not a short one.
const callBound = 30 * time.Second

// Run runs the suite against the stores h describes, each check in a
// subtest of t, in parallel.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	checks := []struct {
		name string
		run  func(t *testing.T, h *Harness)
	}{
		{"Claims", testClaims},
		{"AtomicClaims", testAtomicClaims},
		{"IssuersApart", testIssuersApart},
		{"HostileBytes", testHostileBytes},
		{"Expiry", testExpiry},
		{"Epoch", testEpoch},
		{"FailClosed", testFailClosed},
		{"ResetGuard", testResetGuard},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, &h)
		})
	}
}

// subject is one store under test, with the clock it was given.
type subject struct {
	h     *Harness
	store noncestore.Store
	clock *Clock
}

func (h *Harness) subject(t *testing.T) *subject {
	t.Helper()
	clock := newClock()
	s := h.New(t, clock)
	if s == nil {
		t.Fatal("storetest: Harness.New returned a nil store")
	}
	return &subject{h: h, store: s, clock: clock}
}

// now is the time by the store's clock.
func (s *subject) now() time.Time {
	if s.h.RealTime {
		return time.Now()
	}
	return s.clock.Now()
}

// waitUntil moves the store's clock to at, or waits for it.
func (s *subject) waitUntil(at time.Time) {
	if s.h.RealTime {
		time.Sleep(time.Until(at))
		return
	}
	if d := at.Sub(s.clock.Now()); d > 0 {
		s.clock.Advance(d)
	}
}

// claim calls Claim, failing t if it does not return within callBound.
func (s *subject) claim(t *testing.T, issuer, nonce string, until time.Time) (time.Time, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	start := time.Now()
	epoch, err := s.store.Claim(ctx, issuer, nonce, until)
	if d := time.Since(start); d >= callBound {
		t.Fatalf("Claim(%q, %q) took %v", issuer, nonce, d)
	}
	return epoch, err
}

// expect claims (issuer, nonce) until the store's time plus a minute and
// fails t unless the answer is want (nil or noncestore.ErrReplayed).
func (s *subject) expect(t *testing.T, issuer, nonce string, want error) time.Time {
	t.Helper()
	epoch, err := s.claim(t, issuer, nonce, s.now().Add(time.Minute))
	if !sameAnswer(err, want) {
		t.Fatalf("Claim(%q, %q) = %v, want %v", short(issuer), short(nonce), err, answer(want))
	}
	return epoch
}

func sameAnswer(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

func answer(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// short quotes s, cut to 40 bytes, for messages.
func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", s[:40], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func testClaims(t *testing.T, h *Harness) {
	s := h.subject(t)
	s.expect(t, "user:1:1", "n1", nil)
	s.expect(t, "user:1:1", "n1", noncestore.ErrReplayed)
	s.expect(t, "user:1:1", "n1", noncestore.ErrReplayed)
	s.expect(t, "user:2:1", "n1", nil) // the same nonce, another issuer
	s.expect(t, "user:1:1", "n2", nil) // another nonce, the same issuer
	s.expect(t, "user:2:1", "n1", noncestore.ErrReplayed)
}

// concurrentClaims is how many callers claim one pair at once.
const concurrentClaims = 64

func testAtomicClaims(t *testing.T, h *Harness) {
	s := h.subject(t)
	const pairs = 8
	until := s.now().Add(time.Minute)
	start := make(chan struct{})
	errs := make([][]error, pairs)
	var wg sync.WaitGroup
	for p := range pairs {
		errs[p] = make([]error, concurrentClaims)
		for i := range concurrentClaims {
			wg.Go(func() {
				<-start
				_, errs[p][i] = s.claim(t, "user:1:1", fmt.Sprint("pair-", p), until)
			})
		}
	}
	close(start)
	wg.Wait()
	for p := range pairs {
		won, replayed := 0, 0
		for _, err := range errs[p] {
			switch {
			case err == nil:
				won++
			case errors.Is(err, noncestore.ErrReplayed):
				replayed++
			default:
				t.Errorf("pair %d: a concurrent claim failed: %v", p, err)
			}
		}
		if won != 1 || replayed != concurrentClaims-1 {
			t.Errorf("pair %d: of %d concurrent claims %d succeeded and %d were replays, want 1 and %d",
				p, concurrentClaims, won, replayed, concurrentClaims-1)
		}
	}
}

func testIssuersApart(t *testing.T, h *Harness) {
	// Each group's pairs have the same concatenation of issuer and nonce.
	groups := [][][2]string{
		{{"a:b", "c"}, {"a", "b:c"}, {"a:b:c", ""}, {"", "a:b:c"}},
		{{"ab", ""}, {"a", "b"}, {"", "ab"}},
		{{"user:1:1", "2"}, {"user:1:12", ""}, {"user:1:", "12"}},
		{{"a\x00", "b"}, {"a", "\x00b"}},
	}
	for i, g := range groups {
		t.Run(fmt.Sprint("group ", i), func(t *testing.T) {
			t.Parallel()
			s := h.subject(t)
			for _, p := range g {
				s.expect(t, p[0], p[1], nil)
			}
			for _, p := range g {
				s.expect(t, p[0], p[1], noncestore.ErrReplayed)
			}
		})
	}
}

func testHostileBytes(t *testing.T, h *Harness) {
	long := strings.Repeat("\xff", 256) // SPEC §3 row 13: the longest jti
	nonces := []string{
		"", "\x00", "\x00\x00", "\xff\xfe", "{x}", "{x}y", "{}", "}{", "\r\n", "\r\nSET x y\r\n",
		"*", "?", "[a-z]", "' OR '1'='1", "%s%n", "é", "e\u0301", long, long[:255] + "\x00",
	}
	s := h.subject(t)
	issuers := []string{"user:1:1", "{user:1:1}", strings.Repeat("i", 4096)}
	for _, issuer := range issuers {
		for _, n := range nonces {
			s.expect(t, issuer, n, nil)
		}
	}
	for _, issuer := range issuers {
		for _, n := range nonces {
			s.expect(t, issuer, n, noncestore.ErrReplayed)
		}
	}
}

func testExpiry(t *testing.T, h *Harness) {
	s := h.subject(t)
	// Long enough that a real-time store, which may hold a pair for a
	// minimum of its own (a second for the Redis store), holds it no
	// longer than until.
	until := s.now().Add(1500 * time.Millisecond)
	if _, err := s.claim(t, "user:1:1", "n", until); err != nil {
		t.Fatalf("Claim = %v", err)
	}
	// Just before until: held. A real clock cannot be stopped there, so
	// it checks a little before.
	before := until.Add(-time.Nanosecond)
	if h.RealTime {
		before = until.Add(-300 * time.Millisecond)
	}
	s.waitUntil(before)
	if _, err := s.claim(t, "user:1:1", "n", until); !errors.Is(err, noncestore.ErrReplayed) {
		t.Fatalf("Claim %v before until = %v, want ErrReplayed", until.Sub(before), err)
	}
	// Past until + Slack: forgotten, so claimed anew.
	s.waitUntil(until.Add(h.Slack + time.Millisecond))
	if _, err := s.claim(t, "user:1:1", "n", s.now().Add(time.Minute)); err != nil {
		t.Fatalf("Claim %v after until = %v, want nil (forgotten within Slack)", h.Slack+time.Millisecond, err)
	}
	s.expect(t, "user:1:1", "n", noncestore.ErrReplayed)
}

func testEpoch(t *testing.T, h *Harness) {
	s := h.subject(t)
	ping := func() time.Time {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), callBound)
		defer cancel()
		epoch, err := s.store.Ping(ctx)
		if err != nil {
			t.Fatalf("Ping = %v, want nil", err)
		}
		return epoch
	}
	first := ping()
	for i := range 3 {
		if e := s.expect(t, "user:1:1", fmt.Sprint("n", i), nil); !e.Equal(first) {
			t.Errorf("claim %d returned epoch %v, Ping %v: want the same", i, e, first)
		}
	}
	if e := ping(); !e.Equal(first) {
		t.Errorf("Ping after claims returned epoch %v, before %v: want the same", e, first)
	}
	if !first.IsZero() && first.After(s.now()) {
		t.Errorf("epoch %v is later than the store's clock %v", first, s.now())
	}
}

func testFailClosed(t *testing.T, h *Harness) {
	if h.Break == nil {
		t.Skip("storetest: no Harness.Break")
	}
	s := h.subject(t)
	s.expect(t, "user:1:1", "held", nil)
	h.Break(t, s.store)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, noncestore.ErrUnavailable) || errors.Is(err, noncestore.ErrReplayed) {
			t.Errorf("%s on a broken store = %v, want an error wrapping ErrUnavailable", what, err)
		}
	}
	_, err := s.claim(t, "user:1:1", "new", s.now().Add(time.Minute))
	check("Claim of a new pair", err)
	_, err = s.claim(t, "user:1:1", "held", s.now().Add(time.Minute))
	check("Claim of a held pair", err)
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	_, err = s.store.Ping(ctx)
	check("Ping", err)
}

func testResetGuard(t *testing.T, h *Harness) {
	if h.Reset == nil {
		t.Skip("storetest: no Harness.Reset")
	}
	s := h.subject(t)
	before := s.expect(t, "user:1:1", "n", nil)
	if before.IsZero() {
		t.Fatal("Claim returned the zero epoch: a store with Harness.Reset must have its reset guard on")
	}
	s.expect(t, "user:1:1", "n", noncestore.ErrReplayed)
	// A second on, so that the new epoch is later even if kept in whole
	// seconds.
	if h.RealTime {
		time.Sleep(time.Second)
	} else {
		s.clock.Advance(time.Second)
	}
	s.store = h.Reset(t, s.store, s.clock)
	if s.store == nil {
		t.Fatal("storetest: Harness.Reset returned a nil store")
	}
	after := s.expect(t, "user:1:1", "n", nil) // forgotten with the rest
	if !after.After(before) {
		t.Errorf("epoch after the reset %v, before %v: want a later one", after, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	if e, err := s.store.Ping(ctx); err != nil || !e.Equal(after) {
		t.Errorf("Ping after the reset = %v, %v; want nil and the new epoch %v", e, err, after)
	}
	s.expect(t, "user:1:1", "n", noncestore.ErrReplayed)
}
