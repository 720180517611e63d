//go:build unix

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/amojwt/amojwt/redisstore"
	"github.com/amojwt/amojwt/verifier"
)

// redisEpochKey is the reset guard's marker under serve's default key
// prefix (redisstore.WithResetGuard).
const redisEpochKey = redisstore.DefaultKeyPrefix + "epoch"

// redisTestTimeout is the --store-timeout of servers whose Redis never
// stops answering: long enough that a claim on a loaded machine is not cut
// short (a request cut short is a 503, which these tests count as a
// fault); they are about atomicity, not timeouts (TestRedisStalled is).
const redisTestTimeout = "2s"

// TestRedisServers runs real `amojwt serve --redis` processes on
// redis-server processes of its own (SPEC §5, §7): one token used by 200
// requests at once over two servers, on standalone Redis and on a Cluster;
// and one server under load while its Redis is killed and restarted empty,
// or flushed.
func TestRedisServers(t *testing.T) {
	t.Parallel()
	bin := buildAmojwt(t)
	keys := writeKeys(t, hostileSecret)

	concurrent := []struct {
		name  string
		start func(t *testing.T) string // starts Redis, returns serve's --redis URL
	}{
		{"standalone", func(t *testing.T) string {
			return "redis://" + redistest.Start(t).Addr()
		}},
		{"cluster of 3 masters", func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(redistest.StartCluster(t, 3).Addrs(), ",")
		}},
	}
	for _, tt := range concurrent {
		t.Run("200 uses of one token over two servers/"+tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.start(t)
			seedEpoch(t, url, time.Now().Add(-time.Hour))
			servers := []string{
				startServe(t, bin, "--keys", keys, "--redis", url, "--store-timeout", redisTestTimeout),
				startServe(t, bin, "--keys", keys, "--redis", url, "--store-timeout", redisTestTimeout),
			}
			testConcurrentUses(t, servers, floodToken(time.Now(), "concurrent"))
		})
	}

	t.Run("full Redis with noeviction", func(t *testing.T) {
		t.Parallel()
		rs := redistest.Start(t, redistest.WithConfig("maxmemory-policy noeviction"))
		url := "redis://" + rs.Addr()
		seedEpoch(t, url, time.Now().Add(-time.Hour))
		base := startServe(t, bin, "--keys", keys, "--redis", url, "--store-timeout", redisTestTimeout)
		testFullRedis(t, base, rs)
	})

	faults := []struct {
		name string
		// disrupt makes rs lose its data, and returns when.
		disrupt func(rs *redistest.Server) disruption
		// timeout is serve's --store-timeout.
		timeout string
	}{
		// A 2 s outage and a 1 s store timeout: a claim sent in the first
		// second of the outage gets its 503 before Redis is back instead
		// of waiting for it, and a loaded machine does not turn the claims
		// around it into 503s (the default 250 ms is TestRedisStalled's).
		{"redis killed and restarted empty", func(rs *redistest.Server) disruption {
			var d disruption
			d.lost = time.Now()
			rs.Kill()
			d.gone = time.Now()
			time.Sleep(2 * time.Second)
			d.up = time.Now()
			rs.Restart()
			d.back = time.Now()
			return d
		}, "1s"},
		{"FLUSHALL", func(rs *redistest.Server) disruption {
			lost := time.Now()
			rs.FlushAll()
			back := time.Now()
			return disruption{lost: lost, gone: back, up: back, back: back}
		}, redisTestTimeout},
	}
	for _, tt := range faults {
		t.Run("under load/"+tt.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			url := "redis://" + rs.Addr()
			seedEpoch(t, url, time.Now().Add(-time.Hour))
			// --leeway 1s: the reset guard then refuses jti-bearing tokens
			// for 2 s after the data loss instead of 6 s.
			const leeway = 1
			base := startServe(t, bin, "--keys", keys, "--redis", url, "--store-timeout", tt.timeout,
				"--leeway", strconv.Itoa(leeway)+"s")
			testDisruptedLoad(t, base, rs, leeway, tt.disrupt)
		})
	}
}

// testConcurrentUses sends token to servers from 200 requests at once,
// spread evenly: exactly one is accepted and every other is refused as a
// replay, whichever server it reached (SPEC §5).
func testConcurrentUses(t *testing.T, servers []string, token string) {
	const uses = 200
	client := loadClient(t)
	start := make(chan struct{})
	outcomes := make([]outcome, uses)
	errs := make([]error, uses)
	var wg sync.WaitGroup
	for i := range uses {
		wg.Go(func() {
			<-start
			outcomes[i], errs[i] = authGet(client, servers[i%len(servers)], token)
		})
	}
	close(start)
	wg.Wait()
	accepted, replayed := 0, 0
	for i, o := range outcomes {
		switch {
		case errs[i] != nil:
			t.Errorf("use %d: %v", i, errs[i])
		case o.status == http.StatusOK:
			accepted++
		case o.status == http.StatusUnauthorized && o.detail == verifier.DetailReplayed:
			replayed++
		default:
			t.Errorf("use %d on server %d: %d %q", i, i%len(servers), o.status, o.detail)
		}
	}
	if accepted != 1 || replayed != uses-1 {
		t.Errorf("%d accepted and %d refused as replays, want 1 and %d", accepted, replayed, uses-1)
	}
}

// testFullRedis fills the Redis rs behind the server at base (maxmemory
// below what it uses, policy noeviction), then makes room again: while it
// is full, a claim's SET is refused, so a fresh jti token gets 503 (SPEC
// §7, fail closed) and a replay is not accepted, while a token without jti
// passes; nothing was evicted, so once there is room the replay is still
// refused and fresh tokens are accepted.
func testFullRedis(t *testing.T, base string, rs *redistest.Server) {
	client := loadClient(t)
	want := func(what, token string, ok func(outcome) bool) {
		t.Helper()
		if m := mismatch(client, base, token, ok); m != "" {
			t.Errorf("%s: %s", what, m)
		}
	}
	is := func(status int, detail string) func(outcome) bool {
		return func(o outcome) bool { return o == outcome{status, detail} }
	}
	accepted := is(http.StatusOK, "")
	unavailable := is(http.StatusServiceUnavailable, verifier.DetailUnavailable)

	used := floodToken(time.Now(), "used-before-full")
	want("before Redis is full", used, accepted)
	rs.Do("CONFIG", "SET", "maxmemory", "1")
	want("fresh jti, Redis full", floodToken(time.Now(), "while-full"), unavailable)
	want("replay, Redis full", used, func(o outcome) bool { return unavailable(o) || refused(o) })
	want("no jti, Redis full", floodToken(time.Now(), ""), accepted)
	rs.Do("CONFIG", "SET", "maxmemory", "0")
	want("replay, room again", used, is(http.StatusUnauthorized, verifier.DetailReplayed))
	want("the jti refused while full, room again", floodToken(time.Now(), "while-full"), accepted)
}

// Kinds of request the load sends.
const (
	useFresh  = "fresh jti"   // a token with a new jti, signed just now
	useReplay = "replay"      // a token accepted earlier, sent again
	useNoJTI  = "without jti" // a token without jti, signed just now
)

// loadUse is one request of the load and its answer.
type loadUse struct {
	kind       string
	iat        int64 // of a fresh token
	sent, done time.Time
	got        outcome
	err        error
}

// load is a bounded stream of requests against one server from a few
// goroutines, each pausing between rounds: a fresh jti token, a replay of
// a token accepted earlier (round robin over all of them), and a token
// without jti.
type load struct {
	base   string
	client *http.Client
	stop   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	uses     []loadUse
	accepted []string // fresh tokens that got 200, in order
	next     int      // the next accepted token to replay
}

const (
	loadWorkers = 4
	loadPause   = 10 * time.Millisecond
)

func startLoad(t *testing.T, base string) *load {
	l := &load{base: base, client: loadClient(t), stop: make(chan struct{})}
	for w := range loadWorkers {
		l.wg.Go(func() { l.work(w) })
	}
	return l
}

func (l *load) work(worker int) {
	for round := 0; ; round++ {
		select {
		case <-l.stop:
			return
		case <-time.After(loadPause):
		}
		now := time.Now()
		token := floodToken(now, fmt.Sprintf("load-%d-%d", worker, round))
		if u := l.send(useFresh, token, now.Unix()); u.err == nil && u.got.status == http.StatusOK {
			l.mu.Lock()
			l.accepted = append(l.accepted, token)
			l.mu.Unlock()
		}
		l.mu.Lock()
		var replay string
		if len(l.accepted) > 0 {
			replay = l.accepted[l.next%len(l.accepted)]
			l.next++
		}
		l.mu.Unlock()
		if replay != "" {
			l.send(useReplay, replay, 0)
		}
		l.send(useNoJTI, floodToken(time.Now(), ""), 0)
	}
}

// send sends token, a fresh one issued at iat (Unix seconds), and records
// the answer.
func (l *load) send(kind, token string, iat int64) loadUse {
	u := loadUse{kind: kind, iat: iat, sent: time.Now()}
	u.got, u.err = authGet(l.client, l.base, token)
	u.done = time.Now()
	l.mu.Lock()
	l.uses = append(l.uses, u)
	l.mu.Unlock()
	return u
}

// firstFreshOK returns when the first fresh token sent after from was
// answered 200, if one was.
func (l *load) firstFreshOK(from time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.uses {
		if u.kind == useFresh && u.err == nil && u.got.status == http.StatusOK && u.sent.After(from) {
			return u.done, true
		}
	}
	return time.Time{}, false
}

// finish stops the load and returns what it sent and which fresh tokens
// were accepted.
func (l *load) finish() ([]loadUse, []string) {
	close(l.stop)
	l.wg.Wait()
	return l.uses, l.accepted
}

// disruption is when a Redis lost its data.
type disruption struct {
	lost time.Time // just before: claims answered earlier saw the old data
	gone time.Time // just after: claims sent later cannot reach the old data
	// Redis answered nothing from gone to up (the same moment when it
	// never stopped answering).
	up   time.Time
	back time.Time // from here on, Redis answers (with its data lost)
}

// testDisruptedLoad runs a load against the server at base, whose Redis
// is rs, disrupts rs while the load runs, and lets it run until a fresh
// jti token is accepted again. The server is never restarted. Throughout:
//   - no replay is ever accepted (SPEC §5), before, during or after;
//   - tokens without jti are always accepted (they need no store, §5);
//   - a fresh token sent while Redis is down gets 503 with
//     Retry-After: 1 (§7), and 503 is also allowed on the way back;
//   - once the data is lost, the store starts a new epoch (the marker's
//     value) at the first claim after Redis answers again; a fresh token
//     acceptable before that epoch (trunc(iat) <= floor(epoch) + leeway)
//     is refused as nonce_store_reset, and every later one is accepted;
//   - the epoch starts within 2 s of Redis answering again.
//
// Then every token accepted by the load, and a token signed before the
// data loss and never sent, is refused.
func testDisruptedLoad(t *testing.T, base string, rs *redistest.Server, leeway int64, disrupt func(*redistest.Server) disruption) {
	l := startLoad(t, base)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			l.finish()
		}
	})
	time.Sleep(time.Second)
	signedBefore := floodToken(time.Now(), "signed-before-the-loss")
	d := disrupt(rs)
	lost, back := d.lost, d.back
	// The first fresh token the guard lets through comes leeway + 1 s after
	// the new epoch, which comes soon after Redis answers again.
	deadline := back.Add(time.Duration(leeway+1)*time.Second + 2*time.Second + stallBound)
	var firstOK time.Time
	for {
		var ok bool
		if firstOK, ok = l.firstFreshOK(back); ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a few more rounds past the first 200
	uses, accepted := l.finish()
	stopped = true

	ms, err := strconv.ParseInt(rs.Do("GET", redisEpochKey), 10, 64)
	if err != nil {
		t.Fatalf("reset guard marker after the disruption: %v", err)
	}
	epoch := time.UnixMilli(ms)
	t.Logf("%d requests; Redis lost its data at +0, answered nothing from +%v to +%v, answered again by +%v; new epoch at +%v; first fresh jti accepted at +%v",
		len(uses), d.gone.Sub(lost).Round(time.Millisecond), d.up.Sub(lost).Round(time.Millisecond), back.Sub(lost).Round(time.Millisecond),
		epoch.Sub(lost).Round(time.Millisecond), firstOK.Sub(lost).Round(time.Millisecond))
	switch {
	// The store dates a new epoch from the start of the round trip that
	// found the marker gone, which may precede the loss by up to the store
	// timeout.
	case epoch.Before(lost.Add(-time.Second)):
		t.Fatalf("epoch %v, want a new one at the data loss (%v)", epoch, lost)
	case epoch.Sub(back) > 2*time.Second:
		t.Errorf("new epoch %v after Redis answered again, want within 2 s", epoch.Sub(back))
	case firstOK.IsZero():
		t.Errorf("no fresh jti token accepted within %v of Redis answering again", deadline.Sub(back))
	}

	// A fresh token the guard must refuse: it could have been used before
	// the epoch (SPEC §5).
	predates := func(iat int64) bool { return iat <= epoch.Unix()+leeway }
	// A broken server answers thousands of requests wrong: report the
	// first few, then count.
	const maxReported = 10
	problems := 0
	report := func(format string, args ...any) {
		t.Helper()
		if problems++; problems <= maxReported {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		if problems > maxReported {
			t.Errorf("and %d more problems", problems-maxReported)
		}
	}()
	counts := map[string]int{}
	for _, u := range uses {
		counts[u.kind+" "+strconv.Itoa(u.got.status)]++
		if u.err != nil {
			report("%s at +%v: %v", u.kind, u.sent.Sub(lost), u.err)
			continue
		}
		if problem := judge(u, d, predates); problem != "" {
			report("%s sent at +%v, answered at +%v: %d %q: %s", u.kind,
				u.sent.Sub(lost).Round(time.Millisecond), u.done.Sub(lost).Round(time.Millisecond),
				u.got.status, u.got.detail, problem)
		}
	}
	t.Logf("answers: %v", counts)
	if counts[useFresh+" 200"] == 0 || counts[useReplay+" 401"] == 0 {
		t.Errorf("the load accepted or replayed nothing: %v", counts)
	}

	client := loadClient(t)
	want := func(what, token string, ok func(outcome) bool) {
		t.Helper()
		if m := mismatch(client, base, token, ok); m != "" {
			report("%s: %s", what, m)
		}
	}
	want("token signed before the data loss, first use", signedBefore, func(o outcome) bool {
		return o == outcome{http.StatusUnauthorized, verifier.DetailNonceStoreReset}
	})
	for i, token := range accepted {
		want(fmt.Sprintf("accepted token %d of %d, used again at the end", i+1, len(accepted)), token, refused)
	}
}

// judge returns what is wrong with one use of the load, or "".
func judge(u loadUse, d disruption, predates func(iat int64) bool) string {
	status := u.got.status
	unavailable := status == http.StatusServiceUnavailable
	reset := u.got == outcome{http.StatusUnauthorized, verifier.DetailNonceStoreReset}
	// 503 is expected only around an outage, never with Redis up.
	mayFail := d.up.After(d.gone) && !u.done.Before(d.lost) && !(u.sent.After(d.back) && !predates(u.iat))
	switch u.kind {
	case useNoJTI:
		if status != http.StatusOK {
			return "a token without jti needs no store: want 200"
		}
	case useReplay:
		if !refused(u.got) && !(unavailable && mayFail) {
			return "a replay: want 401 (replayed or nonce_store_reset)"
		}
	case useFresh:
		switch {
		case u.done.Before(d.lost):
			if status != http.StatusOK {
				return "before the data loss: want 200"
			}
		case u.sent.After(d.gone) && u.done.Before(d.up):
			if !unavailable {
				return "while Redis is down: want 503"
			}
		case status == http.StatusOK:
			if u.sent.After(d.gone) && predates(u.iat) {
				return "accepted after the data loss though it predates the new epoch + leeway"
			}
		case u.sent.After(d.back) && !predates(u.iat):
			return "issued after the new epoch + leeway, with Redis up: want 200"
		case !reset && !(unavailable && mayFail):
			return "want 200, 401 nonce_store_reset, or 503 around an outage"
		}
	}
	return ""
}

// refused reports whether o is the 401 of a token used before: replayed,
// or nonce_store_reset when the store lost its memory since.
func refused(o outcome) bool {
	return o.status == http.StatusUnauthorized &&
		(o.detail == verifier.DetailReplayed || o.detail == verifier.DetailNonceStoreReset)
}

// mismatch sends token to base and describes the answer when ok rejects
// it; it returns "" when ok accepts it.
func mismatch(client *http.Client, base, token string, ok func(outcome) bool) string {
	got, err := authGet(client, base, token)
	switch {
	case err != nil:
		return err.Error()
	case !ok(got):
		return fmt.Sprintf("%d %q", got.status, got.detail)
	}
	return ""
}

// seedEpoch sets the reset guard's marker at url (serve's default prefix)
// to epoch: a Redis that has remembered nonces since then. On a fresh
// Redis the guard would otherwise refuse jti-bearing tokens issued up to
// leeway after the first claim.
func seedEpoch(t *testing.T, url string, epoch time.Time) {
	t.Helper()
	client, err := redisstore.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Set(ctx, redisEpochKey, epoch.UnixMilli(), 0).Err(); err != nil {
		t.Fatalf("seeding the reset guard's epoch: %v", err)
	}
}

// loadClient is an HTTP client for many requests at once to a few
// servers: it keeps more idle connections than the default two per host.
func loadClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// authGet sends token to the profile endpoint at base, as get does, but
// returns an error instead of failing the test, so goroutines can call it.
// A 200 must carry the profile of testUserID, and a 503 AMO's text and
// Retry-After: 1 (SPEC §7).
func authGet(client *http.Client, base, token string) (outcome, error) {
	req, err := http.NewRequest(http.MethodGet, base+profileURL, nil)
	if err != nil {
		return outcome{}, err
	}
	req.Header.Set("Authorization", "JWT "+token)
	resp, err := client.Do(req)
	if err != nil {
		return outcome{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{}, err
	}
	var doc struct {
		ID     int64  `json:"id"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return outcome{}, fmt.Errorf("status %d, body %q: %w", resp.StatusCode, body, err)
	}
	o := outcome{status: resp.StatusCode, detail: doc.Detail}
	switch {
	case o.status == http.StatusOK && doc.ID != testUserID:
		return o, fmt.Errorf("200 with body %s, want the profile of user %d", body, testUserID)
	case o.status == http.StatusServiceUnavailable && (doc.Detail != verifier.DetailUnavailable || resp.Header.Get("Retry-After") != "1"):
		return o, fmt.Errorf("503 with detail %q and Retry-After %q, want %q and 1", doc.Detail, resp.Header.Get("Retry-After"), verifier.DetailUnavailable)
	}
	return o, nil
}

// BenchmarkRedisClaimWait is the cost of redisstore.WithWait, which
// serve does not expose: claims through a redis+sentinel:// client on a
// master with one replica in sync (all on loopback), without WAIT and with
// WAIT 1 (timeout 900 ms), one caller at a time and from 16 and 64
// goroutines. Claims sent together share one WAIT. The README's
// deployment section quotes it:
//
//	go test -run XXX -bench RedisClaimWait ./integration/
func BenchmarkRedisClaimWait(b *testing.B) {
	g := redistest.StartSentinel(b)
	client, err := redisstore.NewClient("redis+sentinel://" + g.Addr() + "/" + redistest.MasterName)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	var seq atomic.Uint64 // nonces never repeat, though b.Run calls each function several times
	// caughtUp waits until the replica has every claim so far: after a
	// burst, a replica on the same two cores lags by up to a few hundred
	// milliseconds, and the next WAIT would pay for the previous run.
	settle, err := redisstore.New(client, redisstore.WithKeyPrefix("bench:sync:"),
		redisstore.WithTimeout(5*time.Second), redisstore.WithWait(1, 4*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	caughtUp := func(b *testing.B) {
		if _, err := settle.Claim(context.Background(), testIssuer, strconv.FormatUint(seq.Add(1), 10), time.Now().Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	for _, wait := range []bool{false, true} {
		for _, callers := range []int{1, 16, 64} {
			name := fmt.Sprintf("wait=%v/goroutines=%d", wait, callers)
			if callers == 1 {
				name = fmt.Sprintf("wait=%v/sequential", wait)
			}
			b.Run(name, func(b *testing.B) {
				opts := []redisstore.Option{
					redisstore.WithKeyPrefix("bench:" + b.Name() + ":"),
					redisstore.WithTimeout(time.Second),
				}
				if wait {
					opts = append(opts, redisstore.WithWait(1, 900*time.Millisecond))
				}
				s, err := redisstore.New(client, opts...)
				if err != nil {
					b.Fatal(err)
				}
				until := time.Now().Add(time.Minute)
				caughtUp(b)
				claim := func() error {
					_, err := s.Claim(context.Background(), testIssuer, strconv.FormatUint(seq.Add(1), 10), until)
					return err
				}
				b.ResetTimer()
				if callers == 1 {
					for range b.N {
						if err := claim(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := claim(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
