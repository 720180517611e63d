//go:build unix

package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/redis/go-redis/v9"
)

// Every test here runs against redis-server processes of its own (see
// internal/redistest), never the machine's Redis.

// testRedisClient connects to one server the way NewClient would.
func testRedisClient(tb testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { c.Close() })
	return c
}

// newTestStore makes a store with a 10 s timeout, unless opts set another:
// on a loaded machine a call may take longer than the default 250 ms, and
// only the timeout tests are about timeouts.
func newTestStore(tb testing.TB, c redis.UniversalClient, opts ...Option) *Store {
	tb.Helper()
	s, err := New(c, append([]Option{WithTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// testPrefix gives each test its own keys on a shared server.
func testPrefix(t *testing.T) Option {
	return WithKeyPrefix("test:" + t.Name() + ":")
}

// inAMinute is a claim's until for tests that do not look at expiry.
func inAMinute() time.Time { return time.Now().Add(time.Minute) }

func TestClaim(t *testing.T) {
	t.Parallel()
	client := testRedisClient(t, redistest.Start(t).Addr())
	type claim struct {
		issuer, nonce string
		want          error
	}
	long := strings.Repeat("n", 256) // SPEC §3 row 13: the longest jti
	tests := []struct {
		name   string
		claims []claim
	}{
		{"first claim", []claim{{"user:1:1", "n1", nil}}},
		{"replay", []claim{{"user:1:1", "n1", nil}, {"user:1:1", "n1", noncestore.ErrReplayed}, {"user:1:1", "n1", noncestore.ErrReplayed}}},
		{"same nonce, other issuer", []claim{{"user:1:1", "n1", nil}, {"user:2:1", "n1", nil}, {"user:2:1", "n1", noncestore.ErrReplayed}}},
		{"other nonce, same issuer", []claim{{"user:1:1", "n1", nil}, {"user:1:1", "n2", nil}}},
		{"issuer/nonce boundary (SPEC §5)", []claim{{"a:b", "c", nil}, {"a", "b:c", nil}, {"a:b", "c", noncestore.ErrReplayed}, {"a", "b:c", noncestore.ErrReplayed}}},
		{"length boundary", []claim{{"ab", "c", nil}, {"a", "bc", nil}, {"", "abc", nil}, {"abc", "", nil}}},
		{"empty issuer and nonce", []claim{{"", "", nil}, {"", "", noncestore.ErrReplayed}}},
		{"hash tag in nonce", []claim{{"user:1:1", "{x}", nil}, {"user:1:1", "{x}", noncestore.ErrReplayed}, {"user:1:1", "{y}", nil}}},
		{"longest nonce, long issuer", []claim{{long, long, nil}, {long, long + "x", nil}, {long, long, noncestore.ErrReplayed}}},
		{"binary bytes", []claim{{"\x00\xff", "\x00", nil}, {"\x00", "\xff\x00", nil}, {"\x00\xff", "\x00", noncestore.ErrReplayed}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t, client, testPrefix(t))
			for i, c := range tt.claims {
				if _, err := s.Claim(t.Context(), c.issuer, c.nonce, inAMinute()); !errors.Is(err, c.want) {
					t.Fatalf("claim %d (%q, %q) = %v, want %v", i, c.issuer, c.nonce, err, c.want)
				}
			}
		})
	}
}

func TestClaimExpiry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := testRedisClient(t, srv.Addr())

	t.Run("held until until, by PXAT", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t))
		until := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(123 * time.Millisecond)
		if _, err := s.Claim(t.Context(), "user:1:1", "n", until); err != nil {
			t.Fatal(err)
		}
		got := srv.Do("PEXPIRETIME", s.key("user:1:1", "n"))
		if want := strconv.FormatInt(until.UnixMilli(), 10); got != want {
			t.Errorf("PEXPIRETIME = %s, want %s (until)", got, want)
		}
	})

	t.Run("until already past: held for redisMinHold", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t))
		before := time.Now()
		if _, err := s.Claim(t.Context(), "user:1:1", "n", before.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		if _, err := s.Claim(t.Context(), "user:1:1", "n", before.Add(-time.Hour)); !errors.Is(err, noncestore.ErrReplayed) {
			t.Errorf("second claim of a past pair = %v, want noncestore.ErrReplayed", err)
		}
		got, _ := strconv.ParseInt(srv.Do("PEXPIRETIME", s.key("user:1:1", "n")), 10, 64)
		if lo, hi := before.Add(redisMinHold).UnixMilli(), after.Add(redisMinHold).UnixMilli(); got < lo || got > hi {
			t.Errorf("PEXPIRETIME = %d, want within [%d, %d]", got, lo, hi)
		}
	})

	t.Run("forgotten after until", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t))
		start := time.Now()
		if _, err := s.Claim(t.Context(), "user:1:1", "n", start); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(start.Add(redisMinHold + 100*time.Millisecond)))
		if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); err != nil {
			t.Errorf("claim after expiry = %v, want nil", err)
		}
	})
}

func TestKeyFormat(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := testRedisClient(t, srv.Addr())
	s := newTestStore(t, client)

	// Pinned: processes of two versions sharing one Redis must agree.
	if got, want := s.key("user:543210:23", "nonce-1"), "amojwt:nonce:fab90c91f2dfdb8c2e055a66c2f273ca"; got != want {
		t.Errorf("key = %q, want %q", got, want)
	}

	tests := []struct{ name, issuer, nonce string }{
		{"AMO key", "user:543210:23", "0.8472"},
		{"empty", "", ""},
		{"hash tag", "user:1:1", "{slot7}"},
		{"braces in issuer", "{a}", "}{"},
		{"longest nonce", "user:1:1", strings.Repeat("\xff", 256)},
		{"longer than the stack buffer", strings.Repeat("i", 400), strings.Repeat("n", 400)},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		k := s.key(tt.issuer, tt.nonce)
		rest, ok := strings.CutPrefix(k, DefaultKeyPrefix)
		if !ok || len(rest) != 2*redisKeyHashBytes {
			t.Errorf("%s: key %q: want prefix + %d characters", tt.name, k, 2*redisKeyHashBytes)
		}
		if _, err := hex.DecodeString(rest); err != nil || strings.ToLower(rest) != rest {
			t.Errorf("%s: key %q: want lowercase hex after the prefix", tt.name, k)
		}
		// The same construction, written out independently.
		h := sha256.New()
		binary.Write(h, binary.BigEndian, uint64(len(tt.issuer)))
		h.Write([]byte(tt.issuer))
		binary.Write(h, binary.BigEndian, uint64(len(tt.nonce)))
		h.Write([]byte(tt.nonce))
		if want := DefaultKeyPrefix + hex.EncodeToString(h.Sum(nil)[:redisKeyHashBytes]); k != want {
			t.Errorf("%s: key %q, want %q", tt.name, k, want)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s share key %q", tt.name, other, k)
		}
		seen[k] = tt.name
	}

	// In Redis: the claim's key and the marker, nothing else.
	p := newTestStore(t, client, WithKeyPrefix("custom:"))
	if _, err := p.Claim(t.Context(), "user:1:1", "{tag}", inAMinute()); err != nil {
		t.Fatal(err)
	}
	want := p.key("user:1:1", "{tag}") + "\ncustom:epoch"
	got := strings.Split(srv.Do("KEYS", "custom:*"), "\n")
	if len(got) != 2 || got[0]+"\n"+got[1] != want && got[1]+"\n"+got[0] != want {
		t.Errorf("KEYS custom:* = %q, want the claim's key and custom:epoch", got)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	t.Cleanup(func() { client.Close() })
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   []Option
		ok     bool
	}{
		{"defaults", client, nil, true},
		{"nil client", nil, nil, false},
		{"empty prefix", client, []Option{WithKeyPrefix("")}, false},
		{"zero timeout", client, []Option{WithTimeout(0)}, false},
		{"negative timeout", client, []Option{WithTimeout(-time.Second)}, false},
		{"wait", client, []Option{WithWait(1, 100*time.Millisecond)}, true},
		{"wait, no replicas", client, []Option{WithWait(0, 100*time.Millisecond)}, true},
		{"wait, negative replicas", client, []Option{WithWait(-1, 100*time.Millisecond)}, false},
		{"wait timeout zero (blocks forever)", client, []Option{WithWait(1, 0)}, false},
		{"wait timeout under 1ms", client, []Option{WithWait(1, time.Microsecond)}, false},
		{"wait timeout = store timeout", client, []Option{WithWait(1, DefaultTimeout)}, false},
		{"wait timeout within a longer store timeout", client, []Option{WithTimeout(time.Second), WithWait(2, 500*time.Millisecond)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tt.client, tt.opts...)
			if (err == nil) != tt.ok {
				t.Fatalf("New = %v, %v; want ok %v", s, err, tt.ok)
			}
		})
	}
}

// eachTimeoutMode runs test, in parallel, once for a client that gives up
// at context deadlines (ContextTimeoutEnabled) and once for one that does
// not, each with its own redis-server and a store with the given timeout
// whose connection is dialled before test may stall the server. It checks
// that the store sends from goroutines exactly when the client ignores
// deadlines.
func eachTimeoutMode(t *testing.T, timeout time.Duration, test func(t *testing.T, srv *redistest.Server, s *Store)) {
	for _, ctxTimeouts := range []bool{true, false} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", ctxTimeouts), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: ctxTimeouts})
			t.Cleanup(func() { client.Close() })
			s := newTestStore(t, client, WithTimeout(timeout))
			if s.async == ctxTimeouts {
				t.Fatalf("async = %v with ContextTimeoutEnabled = %v", s.async, ctxTimeouts)
			}
			if err := pollClaim(t, s, "user:1:1", "before"); err != nil {
				t.Fatal(err)
			}
			test(t, srv, s)
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	eachTimeoutMode(t, timeout, func(t *testing.T, srv *redistest.Server, s *Store) {
		srv.Pause()
		start := time.Now()
		_, err := s.Claim(t.Context(), "user:1:1", "paused", inAMinute())
		if !errors.Is(err, noncestore.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("claim on a stalled server = %v, want noncestore.ErrUnavailable and DeadlineExceeded", err)
		}
		// A generous bound: the point is "bounded", not how fast.
		if elapsed := time.Since(start); elapsed > timeout+5*time.Second {
			t.Errorf("claim on a stalled server took %v with a %v timeout", elapsed, timeout)
		}
		if _, err := s.Ping(t.Context()); !errors.Is(err, noncestore.ErrUnavailable) {
			t.Errorf("Ping on a stalled server = %v, want noncestore.ErrUnavailable", err)
		}
		srv.Resume()

		// The same store recovers; the claim that timed out may or may
		// not have been written, so only a fresh nonce has a known answer.
		if err := pollClaim(t, s, "user:1:1", "after"); err != nil {
			t.Errorf("claim after Resume = %v, want nil", err)
		}
		if err := retryUnavailable(func() error { _, err := s.Ping(t.Context()); return err }); err != nil {
			t.Errorf("Ping after Resume = %v", err)
		}
	})
}

// TestTimeoutQueued: claims queued behind stalled rounds fail closed
// by their own deadline, and the store then answers concurrent claims
// again (the queued claims that gave up may still sit in a batch: they must
// not be reused meanwhile).
func TestTimeoutQueued(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	eachTimeoutMode(t, timeout, func(t *testing.T, srv *redistest.Server, s *Store) {
		srv.Pause()
		nonces := make([]string, 10*redisRounds) // most of them queue
		for i := range nonces {
			nonces[i] = "paused-" + strconv.Itoa(i)
		}
		errs := make([]error, len(nonces))
		var wg sync.WaitGroup
		start := time.Now()
		for i, n := range nonces {
			wg.Go(func() { _, errs[i] = s.Claim(t.Context(), "user:1:1", n, inAMinute()) })
		}
		wg.Wait()
		// A generous bound: the point is "bounded", not how fast.
		if elapsed := time.Since(start); elapsed > timeout+5*time.Second {
			t.Errorf("claims on a stalled server took %v with a %v timeout", elapsed, timeout)
		}
		for i, err := range errs {
			if !errors.Is(err, noncestore.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("claim %d on a stalled server = %v, want noncestore.ErrUnavailable and DeadlineExceeded", i, err)
			}
		}
		srv.Resume()

		// As many at once again, each a fresh pair per attempt: with
		// the short timeout a loaded machine may still time one out.
		for i := range nonces {
			wg.Go(func() {
				attempt := 0
				errs[i] = retryUnavailable(func() error {
					attempt++
					_, err := s.Claim(t.Context(), "user:1:1", fmt.Sprintf("after-%d-%d", i, attempt), inAMinute())
					return err
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("claim %d after Resume = %v, want nil", i, err)
			}
		}
	})
}

// pollClaim claims a fresh pair until the store answers something other
// than ErrUnavailable (a client reconnecting, a loaded machine).
func pollClaim(t *testing.T, s *Store, issuer, nonce string) error {
	t.Helper()
	return retryUnavailable(func() error {
		_, err := s.Claim(t.Context(), issuer, nonce, inAMinute())
		return err
	})
}

// retryUnavailable calls f until it returns something other than an error
// wrapping ErrUnavailable, for at most 10 s, and returns its last error.
func retryUnavailable(f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if !errors.Is(err, noncestore.ErrUnavailable) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCallerContext(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newTestStore(t, testRedisClient(t, srv.Addr()))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Claim(ctx, "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("claim with a cancelled context = %v, want noncestore.ErrUnavailable and Canceled", err)
	}

	srv.Pause()
	defer srv.Resume()
	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Claim(ctx, "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("claim past the caller's deadline = %v, want noncestore.ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestServerKilled(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// A shortish timeout: go-redis keeps redialling a dead server.
	s := newTestStore(t, testRedisClient(t, srv.Addr()), WithTimeout(500*time.Millisecond))
	if err := pollClaim(t, s, "user:1:1", "warm-up"); err != nil {
		t.Fatal(err)
	}
	epoch, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
	if err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	if _, err := s.Claim(t.Context(), "user:1:1", "n2", inAMinute()); !errors.Is(err, noncestore.ErrUnavailable) {
		t.Errorf("claim with the server down = %v, want noncestore.ErrUnavailable", err)
	}
	if _, err := s.Ping(t.Context()); !errors.Is(err, noncestore.ErrUnavailable) {
		t.Errorf("Ping with the server down = %v, want noncestore.ErrUnavailable", err)
	}

	time.Sleep(2 * time.Millisecond) // a new epoch must be a later millisecond
	srv.Restart()                    // empty: nothing was persisted
	// The same store, without being recreated, takes claims again once the
	// client has reconnected; the pair is forgotten (the reset guard's
	// reason to exist) and the epoch is new.
	if err := pollClaim(t, s, "user:1:1", "probe"); err != nil {
		t.Fatalf("claim after restart = %v", err)
	}
	var newEpoch time.Time
	err = retryUnavailable(func() (err error) {
		newEpoch, err = s.Claim(t.Context(), "user:1:1", "n", inAMinute())
		return err
	})
	if err != nil {
		t.Fatalf("claim after restart = %v, want nil (the server lost its data)", err)
	}
	if !newEpoch.After(epoch) {
		t.Errorf("epoch after restart %v, want later than %v", newEpoch, epoch)
	}
}

func TestResetGuard(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := testRedisClient(t, srv.Addr())

	t.Run("epoch kept across claims and stores", func(t *testing.T) {
		t.Parallel()
		before := time.Now().Truncate(time.Millisecond)
		s := newTestStore(t, client, testPrefix(t))
		e1, err := s.Claim(t.Context(), "user:1:1", "n1", inAMinute())
		if err != nil {
			t.Fatal(err)
		}
		if e1.Before(before) || e1.After(time.Now()) {
			t.Errorf("first epoch %v, want the time of the first claim (after %v)", e1, before)
		}
		e2, err := s.Claim(t.Context(), "user:1:1", "n2", inAMinute())
		if err != nil || !e2.Equal(e1) {
			t.Errorf("second claim = %v, %v; want epoch %v", e2, err, e1)
		}
		// Another process (a new store on the same Redis) sees the same epoch:
		// restarting amojwt does not move it (SPEC §5).
		other := newTestStore(t, client, testPrefix(t))
		e3, err := other.Claim(t.Context(), "user:1:1", "n3", inAMinute())
		if err != nil || !e3.Equal(e1) {
			t.Errorf("claim from another store = %v, %v; want epoch %v", e3, err, e1)
		}
		if got := srv.Do("GET", "test:"+t.Name()+":epoch"); got != strconv.FormatInt(e1.UnixMilli(), 10) {
			t.Errorf("marker holds %q, want %d", got, e1.UnixMilli())
		}
	})

	t.Run("guard off", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t), WithResetGuard(false))
		epoch, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
		if err != nil || !epoch.IsZero() {
			t.Errorf("claim = %v, %v; want the zero epoch", epoch, err)
		}
		if got := srv.Do("EXISTS", "test:"+t.Name()+":epoch"); got != "0" {
			t.Errorf("guard off wrote a marker")
		}
	})

	t.Run("marker not a time", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t))
		srv.Do("SET", "test:"+t.Name()+":epoch", "yesterday")
		if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrUnavailable) {
			t.Errorf("claim with a garbled marker = %v, want noncestore.ErrUnavailable", err)
		}
	})
}

// TestFlushAll runs alone on its server: FLUSHALL is server-wide.
func TestFlushAll(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newTestStore(t, testRedisClient(t, srv.Addr()))
	epoch, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // a new epoch must be a later millisecond
	srv.FlushAll()
	// The very next claim notices: it starts and returns a new epoch.
	newEpoch, err := s.Claim(t.Context(), "user:1:1", "other", inAMinute())
	if err != nil {
		t.Fatal(err)
	}
	if !newEpoch.After(epoch) {
		t.Errorf("epoch after FLUSHALL %v, want later than %v", newEpoch, epoch)
	}
	again, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
	if err != nil || !again.Equal(newEpoch) {
		t.Errorf("claim of the flushed pair = %v, %v; want nil and epoch %v", again, err, newEpoch)
	}
}

// key is the key that Claim writes for a pair.
func (r *Store) key(issuer, nonce string) string {
	k, _ := r.keyValue(issuer, nonce, nil)
	return k
}

// claimWithValue runs one claim of key with a chosen value, as Claim does
// with a fresh one.
func claimWithValue(t *testing.T, s *Store, key, value string) error {
	t.Helper()
	_, err := s.claim(t.Context(), key, value, inAMinute(), time.Now().Add(s.timeout))
	return err
}

func TestRetriedClaim(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)

	t.Run("same claim sent twice", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, testRedisClient(t, srv.Addr()), testPrefix(t))
		key := s.key("user:1:1", "n")
		if err := claimWithValue(t, s, key, "request-1"); err != nil {
			t.Fatal(err)
		}
		// What a go-redis retry looks like to Redis: the same SET again.
		if err := claimWithValue(t, s, key, "request-1"); err != nil {
			t.Errorf("the same claim again = %v, want nil (our own write)", err)
		}
		if err := claimWithValue(t, s, key, "request-2"); !errors.Is(err, noncestore.ErrReplayed) {
			t.Errorf("another claim of the pair = %v, want noncestore.ErrReplayed", err)
		}
	})

	t.Run("reply lost on the wire", func(t *testing.T) {
		t.Parallel()
		proxy := redistest.NewProxy(t, srv.Addr())
		s := newTestStore(t, testRedisClient(t, proxy.Addr()), testPrefix(t))
		// Warm up the connection (and create the marker) first, so the
		// dropped reply is the claim's.
		if _, err := s.Claim(t.Context(), "user:1:1", "warm-up", inAMinute()); err != nil {
			t.Fatal(err)
		}
		proxy.DropReplyAfter([]byte(s.key("user:1:1", "n")))
		if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); err != nil {
			t.Errorf("claim whose first reply was lost = %v, want nil", err)
		}
		if proxy.Dropped() != 1 {
			t.Fatalf("the proxy dropped %d replies, want 1", proxy.Dropped())
		}
		if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrReplayed) {
			t.Errorf("replay after the retried claim = %v, want noncestore.ErrReplayed", err)
		}
	})
}

// claimAll runs one claim per nonce, all at once, and counts the answers.
func claimAll(t *testing.T, s *Store, nonces []string) (ok, replayed int) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, len(nonces))
	var wg sync.WaitGroup
	for i, n := range nonces {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Claim(t.Context(), "user:1:1", n, inAMinute())
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, noncestore.ErrReplayed):
			replayed++
		default:
			t.Errorf("claim = %v", err)
		}
	}
	return ok, replayed
}

// testConcurrentClaims is SPEC §5's "of N simultaneous requests with one
// token, exactly one succeeds", and its mix with other tokens.
func testConcurrentClaims(t *testing.T, client redis.UniversalClient) {
	t.Run("200 claims of one pair", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t))
		nonces := make([]string, 200)
		for i := range nonces {
			nonces[i] = "same"
		}
		if ok, replayed := claimAll(t, s, nonces); ok != 1 || replayed != 199 {
			t.Errorf("%d succeeded and %d replayed, want 1 and 199", ok, replayed)
		}
	})
	t.Run("200 claims of 50 pairs", func(t *testing.T) {
		t.Parallel()
		s := newTestStore(t, client, testPrefix(t))
		nonces := make([]string, 200)
		for i := range nonces {
			nonces[i] = strconv.Itoa(i % 50)
		}
		if ok, replayed := claimAll(t, s, nonces); ok != 50 || replayed != 150 {
			t.Errorf("%d succeeded and %d replayed, want 50 and 150", ok, replayed)
		}
	})
}

func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, ctxTimeouts := range []bool{true, false} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", ctxTimeouts), func(t *testing.T) {
			t.Parallel()
			client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: ctxTimeouts})
			t.Cleanup(func() { client.Close() })
			testConcurrentClaims(t, client)
		})
	}
}

func TestMaxPending(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// A long timeout: the stuck claims must stay queued while we count.
	s := newTestStore(t, testRedisClient(t, srv.Addr()), WithTimeout(time.Minute))
	srv.Pause()

	// redisRounds claims in flight, stuck; redisMaxPending more queued
	// behind them.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer srv.Resume() // before the Wait: the queue then drains at once
	for i := range redisRounds + redisMaxPending {
		wg.Go(func() { _, _ = s.Claim(t.Context(), "user:1:1", strconv.Itoa(i), inAMinute()) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == redisMaxPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d claims queued, want %d", n, redisMaxPending)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := s.Claim(t.Context(), "user:1:1", "one too many", inAMinute())
	if !errors.Is(err, noncestore.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("claim beyond the queue = %v, want noncestore.ErrUnavailable at once (not a timeout)", err)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := testRedisClient(t, srv.Addr())
	if _, err := newTestStore(t, client).Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v", err)
	}
	// A short timeout: go-redis keeps redialling a dead server.
	s := newTestStore(t, client, WithTimeout(300*time.Millisecond))
	srv.Kill()
	if _, err := s.Ping(t.Context()); !errors.Is(err, noncestore.ErrUnavailable) {
		t.Errorf("Ping with the server down = %v, want noncestore.ErrUnavailable", err)
	}
}

func TestWaitStandalone(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t) // no replica: WAIT 1 cannot succeed
	s := newTestStore(t, testRedisClient(t, srv.Addr()), WithWait(1, 20*time.Millisecond))
	if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrUnavailable) {
		t.Errorf("claim with WAIT 1 and no replica = %v, want noncestore.ErrUnavailable", err)
	}
	// Failing closed does not forget that the pair was written.
	if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrReplayed) {
		t.Errorf("second claim = %v, want noncestore.ErrReplayed", err)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3, redistest.WithReplicas(1))
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })

	t.Run("claims", func(t *testing.T) {
		t.Run("concurrent", func(t *testing.T) { testConcurrentClaims(t, client) })
		t.Run("keys spread over every master", func(t *testing.T) {
			s := newTestStore(t, client, testPrefix(t))
			for i := range 30 {
				if _, err := s.Claim(t.Context(), "user:1:1", strconv.Itoa(i), inAMinute()); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range cluster.Masters {
				if m.Do("DBSIZE") == "0" {
					t.Errorf("master %s holds no key", m.Addr())
				}
			}
		})
		t.Run("WAIT 1 with a replica each", func(t *testing.T) {
			s := newTestStore(t, client, testPrefix(t), WithWait(1, 5*time.Second))
			for i := range 10 {
				if _, err := s.Claim(t.Context(), "user:1:1", strconv.Itoa(i), inAMinute()); err != nil {
					t.Fatalf("claim %d = %v", i, err)
				}
			}
			if _, err := s.Claim(t.Context(), "user:1:1", "0", inAMinute()); !errors.Is(err, noncestore.ErrReplayed) {
				t.Errorf("replay = %v, want noncestore.ErrReplayed", err)
			}
			if ok, replayed := claimAll(t, s, []string{"a", "b", "c", "a", "b", "c", "d"}); ok != 4 || replayed != 3 {
				t.Errorf("%d succeeded and %d replayed, want 4 and 3", ok, replayed)
			}
		})
		t.Run("WAIT 2 with one replica each", func(t *testing.T) {
			s := newTestStore(t, client, testPrefix(t), WithWait(2, 20*time.Millisecond))
			if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrUnavailable) {
				t.Errorf("claim = %v, want noncestore.ErrUnavailable", err)
			}
		})
	})

	// After the subtests above: FLUSHALL wipes every node.
	s := newTestStore(t, client)
	epoch, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	cluster.FlushAll()
	newEpoch, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
	if err != nil || !newEpoch.After(epoch) {
		t.Errorf("claim after FLUSHALL = %v, %v; want nil and an epoch later than %v", newEpoch, err, epoch)
	}
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinel(t)
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: redistest.MasterName, SentinelAddrs: []string{g.Addr()}, ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { client.Close() })
	// WAIT 1: the claim is on the replica before Claim returns, so it
	// survives the failover below.
	s := newTestStore(t, client, WithWait(1, 5*time.Second))
	epoch, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrReplayed) {
		t.Errorf("replay = %v, want noncestore.ErrReplayed", err)
	}

	g.Failover()
	// The client follows the Sentinel to the new master (after a few
	// ErrUnavailable while it reconnects); the nonce and the epoch are there.
	// (Without WAIT now: the old master may not be a replica yet.)
	s = newTestStore(t, client)
	if err := pollClaim(t, s, "user:1:1", "n"); !errors.Is(err, noncestore.ErrReplayed) {
		t.Errorf("replay after failover = %v, want noncestore.ErrReplayed", err)
	}
	e, err := s.Claim(t.Context(), "user:1:1", "after", inAMinute())
	if err != nil || !e.Equal(epoch) {
		t.Errorf("claim after failover = %v, %v; want nil and epoch %v", e, err, epoch)
	}
}

// traceKey is the key of a value a caller puts in its context, as a
// tracing library puts its span.
type traceKey struct{}

// traceHook records the traceKey value of the context of every command and
// pipeline the client sends.
type traceHook struct {
	mu   sync.Mutex
	seen []any
}

func (h *traceHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *traceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(ctx)
		return next(ctx, cmd)
	}
}

func (h *traceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(ctx)
		return next(ctx, cmds)
	}
}

func (h *traceHook) record(ctx context.Context) {
	h.mu.Lock()
	h.seen = append(h.seen, ctx.Value(traceKey{}))
	h.mu.Unlock()
}

// take returns the values recorded since the last take.
func (h *traceHook) take() []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := h.seen
	h.seen = nil
	return seen
}

// TestCallerContextValues: the values of the caller's context (a tracing
// span) reach go-redis hooks, for a lone claim, for claims batched
// together (each round carries one of its callers' values) and for Ping,
// whether the store sends from the caller's goroutine or its own.
func TestCallerContextValues(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, ctxTimeouts := range []bool{true, false} {
		for _, guard := range []bool{true, false} {
			t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v/guard=%v", ctxTimeouts, guard), func(t *testing.T) {
				t.Parallel()
				client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: ctxTimeouts})
				t.Cleanup(func() { client.Close() })
				hook := new(traceHook)
				client.AddHook(hook)
				s := newTestStore(t, client, testPrefix(t), WithResetGuard(guard))

				ctx := context.WithValue(t.Context(), traceKey{}, "span-lone")
				if _, err := s.Ping(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Claim(ctx, "user:1:1", "lone", inAMinute()); err != nil {
					t.Fatal(err)
				}
				seen := hook.take()
				if len(seen) == 0 {
					t.Fatal("no command reached the hook")
				}
				for _, v := range seen {
					if v != "span-lone" {
						t.Errorf("a hook saw %v, want span-lone: every command %v", v, seen)
					}
				}

				var wg sync.WaitGroup
				for i := range 50 {
					wg.Go(func() {
						ctx := context.WithValue(t.Context(), traceKey{}, fmt.Sprint("span-", i))
						if _, err := s.Claim(ctx, "user:1:1", strconv.Itoa(i), inAMinute()); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				for _, v := range hook.take() {
					if s, ok := v.(string); !ok || !strings.HasPrefix(s, "span-") {
						t.Errorf("a round of concurrent claims reached the hook with %v, want one of its callers' spans", v)
					}
				}
			})
		}
	}
}
