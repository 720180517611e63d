package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/internal/vectors"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// TestCapacityFlood floods a mock AMO server whose memory nonce store holds
// at most capacity nonces with unique valid jtis from several connections:
// exactly capacity are accepted, every request beyond the bound gets 503
// with Retry-After: 1 (SPEC §7, fail closed), and no nonce is forgotten to
// make room: the first and the last accepted tokens are still replays.
// Tokens without jti, and refusals that need no store, are answered as
// usual meanwhile; once the held nonces expire there is room again.
func TestCapacityFlood(t *testing.T) {
	t.Parallel()
	const capacity, extra, conns = 300, 100, 4
	clock := &vectors.Clock{}
	clock.Set(time.Now())
	store, err := noncestore.NewMemory(noncestore.WithCapacity(capacity), noncestore.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store), verifier.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mockamo.New(v, mockamo.WithClock(clock.Now)))
	t.Cleanup(srv.Close)
	sign := func(jti string) string { return floodToken(clock.Now(), jti) }

	tokens := make([]string, capacity+extra)
	for i := range tokens {
		tokens[i] = sign(fmt.Sprint("flood-", i))
	}
	statuses := make([]int, len(tokens))
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			for i := c; i < len(tokens); i += conns {
				statuses[i], _ = floodGet(t, srv, tokens[i])
			}
		})
	}
	wg.Wait()
	var first, last = -1, -1
	count := map[int]int{}
	for i, s := range statuses {
		count[s]++
		if s == http.StatusOK {
			last = max(last, i)
			if first < 0 {
				first = i
			}
		}
	}
	if count[http.StatusOK] != capacity || count[http.StatusServiceUnavailable] != extra {
		t.Fatalf("statuses %v, want %d × 200 and %d × 503", count, capacity, extra)
	}

	checks := []struct {
		name   string
		token  string
		status int
		detail string
	}{
		{"the first accepted token again", tokens[first], http.StatusUnauthorized, verifier.DetailReplayed},
		{"the last accepted token again", tokens[last], http.StatusUnauthorized, verifier.DetailReplayed},
		{"a new jti", sign("flood-new"), http.StatusServiceUnavailable, verifier.DetailUnavailable},
		{"no jti: no store needed", floodToken(clock.Now(), ""), http.StatusOK, ""},
		{"badly signed", sign("flood-new")[:60] + "x", http.StatusUnauthorized, verifier.DetailDecoding},
		{"expired", floodToken(clock.Now().Add(-time.Hour), "flood-old"), http.StatusUnauthorized, verifier.DetailExpired},
	}
	for _, c := range checks {
		if status, detail := floodGet(t, srv, c.token); status != c.status || detail != c.detail {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, detail, c.status, c.detail)
		}
	}

	// After exp + leeway the nonces may go: room again, and the first
	// token is refused as expired, not accepted.
	clock.Set(clock.Now().Add(2 * time.Minute))
	if status, detail := floodGet(t, srv, sign("flood-after")); status != http.StatusOK {
		t.Errorf("a new jti once the held ones expired: %d %q, want 200", status, detail)
	}
	if status, detail := floodGet(t, srv, tokens[first]); detail != verifier.DetailExpired {
		t.Errorf("the first token once expired: %d %q, want 401 %q", status, detail, verifier.DetailExpired)
	}
}

// TestCapacityFloodMemory floods a memory store through the verifier with
// three times its capacity of unique jtis: the heap it takes at capacity is
// within the bound WithCapacity documents (54 bytes a nonce) plus the
// shards' first tables, and the refused two thirds add nothing.
//
// Not parallel: it reads the heap size.
func TestCapacityFloodMemory(t *testing.T) {
	capacity := 20_000
	if raceEnabled {
		capacity = 4_000
	}
	clock := &vectors.Clock{}
	clock.Set(time.Now())
	base := heapInUse()
	store, err := noncestore.NewMemory(noncestore.WithCapacity(capacity), noncestore.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(newHostileKeys(t), verifier.WithNonceStore(store), verifier.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	empty := heapInUse() - base
	flood := func(from, to int) (accepted, full int) {
		for i := from; i < to; i++ {
			_, err := v.Verify(context.Background(), floodToken(clock.Now(), fmt.Sprint("m-", i)))
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, verifier.ErrUnavailable):
				full++
			default:
				t.Fatalf("token %d: %v", i, err)
			}
		}
		return accepted, full
	}
	if accepted, full := flood(0, capacity); accepted != capacity || full != 0 {
		t.Fatalf("%d accepted, %d refused as full; want all %d accepted", accepted, full, capacity)
	}
	atCapacity := heapInUse() - base
	if accepted, full := flood(capacity, 3*capacity); accepted != 0 || full != 2*capacity {
		t.Fatalf("beyond capacity: %d accepted, %d refused as full; want all %d refused", accepted, full, 2*capacity)
	}
	afterFlood := heapInUse() - base
	runtime.KeepAlive(store)
	t.Logf("heap: empty store %d B, at capacity %d B (%.1f B a nonce), after 3× capacity %d B",
		empty, atCapacity, float64(atCapacity-empty)/float64(capacity), afterFlood)
	// WithCapacity: at most 54 bytes a live nonce; each of the 1024 shards
	// starts with a 16-slot table of 20-byte entries.
	if limit := empty + 54*int64(capacity) + 1024*16*20; atCapacity > limit {
		t.Errorf("%d bytes at capacity, want at most %d", atCapacity, limit)
	}
	if afterFlood > atCapacity+64<<10 {
		t.Errorf("refused claims grew the heap from %d to %d bytes", atCapacity, afterFlood)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// floodToken is a token for testIssuer issued at iat, valid 60 s, with jti
// (none when jti is "").
func floodToken(iat time.Time, jti string) string {
	member := ""
	if jti != "" {
		member = fmt.Sprintf(`"jti":%q,`, jti)
	}
	claims := fmt.Sprintf(`{"iss":%q,%s"iat":%d,"exp":%d}`, testIssuer, member, iat.Unix(), iat.Unix()+60)
	return jwttest.Sign(`{"alg":"HS256","typ":"JWT"}`, claims, []byte(hostileSecret))
}

// floodGet sends token to the profile endpoint and returns the status and
// the detail of a refusal. A 503 must carry Retry-After: 1 and AMO's text
// (SPEC §7).
func floodGet(t *testing.T, srv *httptest.Server, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+profileURL, nil)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	req.Header.Set("Authorization", "JWT "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	var doc struct{ Detail string }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Errorf("status %d: body: %v", resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && (doc.Detail != verifier.DetailUnavailable || resp.Header.Get("Retry-After") != "1") {
		t.Errorf("503 with detail %q and Retry-After %q, want %q and 1", doc.Detail, resp.Header.Get("Retry-After"), verifier.DetailUnavailable)
	}
	return resp.StatusCode, doc.Detail
}
