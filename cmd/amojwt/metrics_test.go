package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestMetricsObserve counts the decisions a server cannot be made to take
// with the memory store: a failing nonce store.
func TestMetricsObserve(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	m.observe(verifier.Decision{Issuer: "user:1:1", Reason: verifier.ReasonUnavailable, HasNonce: true,
		StoreCalled: true, StoreLatency: 300 * time.Millisecond})
	m.observe(verifier.Decision{Reason: verifier.ReasonUnavailable}) // a failing key store
	m.observe(verifier.Decision{Issuer: "user:1:1", HasNonce: true, StoreCalled: true, StoreLatency: time.Millisecond})
	m.keysReloaded(nil)
	m.keysReloaded(io.ErrUnexpectedEOF)
	m.keysReloaded(io.ErrUnexpectedEOF)

	rec := httptest.NewRecorder()
	m.handler(slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	got := parseMetrics(t, rec.Body.String())
	want := map[string]float64{
		`amojwt_requests_total{decision="unavailable",reason="unavailable"}`: 2,
		`amojwt_requests_total{decision="accepted",reason="none"}`:           1,
		`amojwt_nonce_store_errors_total`:                                    1,
		`amojwt_nonce_store_seconds_count`:                                   2,
		`amojwt_nonce_store_seconds_bucket{le="0.001"}`:                      1,
		`amojwt_nonce_store_seconds_bucket{le="0.25"}`:                       1,
		`amojwt_nonce_store_seconds_bucket{le="0.5"}`:                        2,
		`amojwt_tokens_without_jti_total`:                                    0,
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
	accepted := verifier.Decision{Issuer: "user:1:1", HasNonce: true, StoreCalled: true, StoreLatency: time.Microsecond}
	refused := verifier.Decision{Issuer: "user:1:1", Reason: verifier.ReasonExpired}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if i%2 == 0 {
				m.observe(accepted)
			} else {
				m.observe(refused)
			}
		}
	})
}
