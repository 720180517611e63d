package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/redisstore"
	"github.com/amojwt/amojwt/verifier"
)

// stallBound is how long past the store's timeout a 503 may take to reach
// the client on a loaded machine: a bound, not a speed measurement (the
// test logs the measured times).
const stallBound = time.Second

// TestRedisStalled freezes the Redis server behind a mock AMO server with
// SIGSTOP (connections open, nothing answered): tokens that need the store
// get 503 within the store's timeout (250 ms by default, SPEC §7), one at a
// time and many at once, while a badly signed token still gets its 401 at
// once. When Redis continues, fresh tokens are accepted again without a
// restart.
func TestRedisStalled(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	client, err := redisstore.NewClient("redis://" + rs.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	// The reset guard (SPEC §5) would refuse jti tokens for leeway + 1 s
	// after the first claim; it is not what this test is about.
	store, err := redisstore.New(client, redisstore.WithResetGuard(false))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mockamo.New(v))
	t.Cleanup(srv.Close)
	fresh := func(jti string) string { return floodToken(time.Now(), jti) }
	timed := func(token string) (int, string, time.Duration) {
		start := time.Now()
		status, detail := floodGet(t, srv, token)
		return status, detail, time.Since(start)
	}

	if status, detail, _ := timed(fresh("r-0")); status != http.StatusOK {
		t.Fatalf("before the stall: %d %q, want 200", status, detail)
	}

	rs.Pause()
	paused := true
	t.Cleanup(func() {
		if paused {
			rs.Resume()
		}
	})
	for i := range 3 {
		status, detail, took := timed(fresh(fmt.Sprint("r-stall-", i)))
		t.Logf("stalled store: %d after %v", status, took)
		if status != http.StatusServiceUnavailable || detail != verifier.DetailUnavailable {
			t.Errorf("stalled store: %d %q, want 503", status, detail)
		}
		if took > redisstore.DefaultTimeout+stallBound {
			t.Errorf("stalled store: the 503 took %v, want about %v", took, redisstore.DefaultTimeout)
		}
	}
	const concurrent = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := range concurrent {
		wg.Go(func() {
			status, _, took := timed(fresh(fmt.Sprint("r-many-", i)))
			if status != http.StatusServiceUnavailable {
				t.Errorf("stalled store, %d at once: %d, want 503", concurrent, status)
			}
			mu.Lock()
			slowest = max(slowest, took)
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("stalled store, %d at once: slowest 503 after %v", concurrent, slowest)
	if slowest > redisstore.DefaultTimeout+stallBound {
		t.Errorf("stalled store, %d at once: the slowest 503 took %v", concurrent, slowest)
	}
	status, detail, took := timed(fresh("r-bad") + "A")
	t.Logf("stalled store, badly signed: %d after %v", status, took)
	if status != http.StatusUnauthorized || detail != verifier.DetailDecoding || took >= redisstore.DefaultTimeout {
		t.Errorf("stalled store, badly signed: %d %q after %v, want 401 %q at once", status, detail, took, verifier.DetailDecoding)
	}

	rs.Resume()
	paused = false
	for i := range 5 {
		if status, detail, took := timed(fresh(fmt.Sprint("r-after-", i))); status != http.StatusOK {
			t.Errorf("request %d after the stall: %d %q after %v, want 200", i+1, status, detail, took)
		}
	}
}
