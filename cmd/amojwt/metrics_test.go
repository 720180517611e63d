package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// parseMetrics reads the Prometheus text format into a map from series
// (`name{label="value",...}` as written, labels sorted) to value.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	series := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// scrape GETs /metrics from the server and parses it.
func (s *server) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, body := s.get(t, "GET", "/metrics", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return parseMetrics(t, body)
}

// TestMetricsMove scrapes a running server before and after accepted,
// replayed, expired, jti-less and anonymous requests.
func TestMetricsMove(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo")
	before := s.scrape(t)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", `amojwt_keys_reloads_total{result="error"}`} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	tok := token(t, "m1")
	requests := []struct {
		auth       string
		wantStatus int
	}{
		{"JWT " + tok, 200},
		{"JWT " + tok, 401}, // replayed
		{"JWT " + tokenAt(t, "m2", time.Now().Add(-10*time.Minute)), 401}, // expired
		{"JWT " + token(t, ""), 200},                                      // no jti
		{"", 401},                                                         // no credentials
		{"JWT", 401},                                                      // malformed header
	}
	for i, r := range requests {
		if resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", r.auth); resp.StatusCode != r.wantStatus {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}

	after := s.scrape(t)
	moves := []struct {
		series string
		want   float64
	}{
		{`amojwt_requests_total{decision="accepted",reason="none"}`, 2},
		{`amojwt_requests_total{decision="refused",reason="replayed"}`, 1},
		{`amojwt_requests_total{decision="refused",reason="expired"}`, 1},
		{`amojwt_requests_total{decision="refused",reason="not_authenticated"}`, 1},
		{`amojwt_requests_total{decision="refused",reason="header_malformed"}`, 1},
		{`amojwt_tokens_without_jti_total`, 1},
		// The store is asked for the two jti-bearing tokens that passed
		// every other check: the first use and the replay.
		{`amojwt_nonce_store_seconds_count`, 2},
		{`amojwt_nonce_store_errors_total`, 0},
	}
	for _, m := range moves {
		if got := after[m.series] - before[m.series]; got != m.want {
			t.Errorf("%s moved by %v, want %v", m.series, got, m.want)
		}
	}
}

// brokenKeys is a key store whose every lookup fails, as a database that is
// down would.
type brokenKeys struct{}

func (brokenKeys) Lookup(context.Context, string) (*verifier.Key, error) {
	return nil, errors.New("connection refused")
}

// checkedDecision is the middleware's decision on tok by a verifier over
// keys with opts, at the clock of the inspect goldens.
func checkedDecision(t testing.TB, keys verifier.KeyStore, tok string, opts ...verifier.Option) middleware.Decision {
	t.Helper()
	opts = append([]verifier.Option{verifier.WithClock(func() time.Time { return time.Unix(1700000000, 0) })}, opts...)
	v, err := verifier.New(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var d middleware.Decision
	h := middleware.New(v, middleware.WithObserver(func(_ *http.Request, got middleware.Decision) { d = got }))(http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "JWT "+tok)
	h.ServeHTTP(httptest.NewRecorder(), req)
	return d
}

// TestMetricsObserve counts the decisions a server cannot be made to take
// with the memory store: a failing nonce store, a failing key store, a
// store failure accepted under --replay report.
func TestMetricsObserve(t *testing.T) {
	t.Parallel()
	tok := jwttest.Sign(inspectHeader, `{"iss":"user:543210:23","jti":"m","iat":1700000000,"exp":1700000060}`, []byte(demoSecret))
	m := newMetrics()
	m.observe(nil, checkedDecision(t, demoKeys(), tok, verifier.WithNonceStore(downStore{})))
	m.observe(nil, checkedDecision(t, brokenKeys{}, tok))
	m.observe(nil, checkedDecision(t, demoKeys(), tok))
	m.observe(nil, checkedDecision(t, demoKeys(), tok, verifier.WithNonceStore(downStore{}), verifier.WithReplay(verifier.ReplayReport)))
	m.keysReloaded(nil)
	m.keysReloaded(io.ErrUnexpectedEOF)
	m.keysReloaded(io.ErrUnexpectedEOF)

	rec := httptest.NewRecorder()
	m.handler(slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	got := parseMetrics(t, rec.Body.String())
	want := map[string]float64{
		`amojwt_requests_total{decision="unavailable",reason="unavailable"}`: 2,
		`amojwt_requests_total{decision="accepted",reason="none"}`:           2,
		`amojwt_nonce_store_errors_total`:                                    2,
		`amojwt_nonce_store_seconds_count`:                                   3,
		`amojwt_tokens_without_jti_total`:                                    0,
		`amojwt_token_reuses_total`:                                          0,
		`amojwt_keys_reloads_total{result="ok"}`:                             1,
		`amojwt_keys_reloads_total{result="error"}`:                          2,
	}
	for series, w := range want {
		if v, ok := got[series]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, w)
		}
	}
}

// BenchmarkMetricsObserve is the cost the metrics add to each decision.
func BenchmarkMetricsObserve(b *testing.B) {
	m := newMetrics()
	tok := jwttest.Sign(inspectHeader, `{"iss":"user:543210:23","iat":1699999000,"exp":1699999060}`, []byte(demoSecret))
	refused := checkedDecision(b, demoKeys(), tok)
	accepted := middleware.Decision{Outcome: middleware.Accepted, Verifier: verifier.Decision{Issuer: "user:1:1", HasNonce: true,
		StoreCalled: true, StoreLatency: time.Microsecond}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if i%2 == 0 {
				m.observe(nil, accepted)
			} else {
				m.observe(nil, refused)
			}
		}
	})
}
