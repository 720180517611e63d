package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

const (
	testKey    = "user:543210:23"
	testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantURL string
		wantErr string // "" for success
	}{
		{name: "defaults", args: []string{"--secret", "s"}, wantURL: "http://127.0.0.1:8080/api/v5/accounts/profile/"},
		{name: "ipv6 loopback and a path", args: []string{"--secret", "s", "--url", "http://[::1]:9/", "--path", "/healthz"}, wantURL: "http://[::1]:9/healthz"},
		{name: "localhost", args: []string{"--anonymous", "--url", "https://localhost:8443"}, wantURL: "https://localhost:8443/api/v5/accounts/profile/"},
		{name: "127.0.0.0/8", args: []string{"--secret", "s", "--url", "http://127.1.2.3"}, wantURL: "http://127.1.2.3/api/v5/accounts/profile/"},
		{name: "public host", args: []string{"--secret", "s", "--url", "http://example.com"}, wantErr: "only loopback"},
		{name: "private address", args: []string{"--secret", "s", "--url", "http://10.0.0.1:8080"}, wantErr: "only loopback"},
		{name: "IPv4-mapped private address", args: []string{"--secret", "s", "--url", "http://[::ffff:10.0.0.1]/"}, wantErr: "only loopback"},
		{name: "unspecified address", args: []string{"--secret", "s", "--url", "http://0.0.0.0:8080"}, wantErr: "only loopback"},
		{name: "localhost lookalike", args: []string{"--secret", "s", "--url", "http://localhost.example.com"}, wantErr: "only loopback"},
		{name: "not http", args: []string{"--secret", "s", "--url", "ftp://127.0.0.1"}, wantErr: "http://"},
		{name: "path in the URL", args: []string{"--secret", "s", "--url", "http://127.0.0.1/x"}, wantErr: "--path"},
		{name: "no secret", args: nil, wantErr: "--secret"},
		{name: "duration over the cap", args: []string{"--secret", "s", "--duration", "6m"}, wantErr: "--duration"},
		{name: "no connections", args: []string{"--secret", "s", "--connections", "0"}, wantErr: "--connections"},
		{name: "ratios over 1", args: []string{"--secret", "s", "--replay-ratio", "0.6", "--forge-ratio", "0.5"}, wantErr: "ratio"},
		{name: "negative ratio", args: []string{"--secret", "s", "--forge-ratio", "-0.1"}, wantErr: "ratio"},
		{name: "replays without jti", args: []string{"--secret", "s", "--no-jti", "--replay-ratio", "0.1"}, wantErr: "--no-jti"},
		{name: "anonymous forgeries", args: []string{"--anonymous", "--forge-ratio", "0.1"}, wantErr: "--anonymous"},
		{name: "relative path", args: []string{"--secret", "s", "--path", "healthz"}, wantErr: "--path"},
		{name: "stray argument", args: []string{"--secret", "s", "x"}, wantErr: "unexpected"},
		{name: "slow clients", args: []string{"--secret", "s", "--slow-clients", "1024"}, wantURL: "http://127.0.0.1:8080/api/v5/accounts/profile/"},
		{name: "too many slow clients", args: []string{"--secret", "s", "--slow-clients", "1025"}, wantErr: "--slow-clients"},
		{name: "slow clients over TLS", args: []string{"--secret", "s", "--slow-clients", "1", "--url", "https://127.0.0.1"}, wantErr: "--slow-clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseFlags(tt.args, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want an error mentioning %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || c.url != tt.wantURL {
				t.Fatalf("parseFlags(%q) = %+v, %v; want URL %q", tt.args, c, err, tt.wantURL)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p50", 0.50, 5000 * time.Microsecond},
		{"p99", 0.99, 9900 * time.Microsecond},
		{"max", 1, 10000 * time.Microsecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if got < tt.want || float64(got-tt.want) > float64(tt.want)/histSub {
			t.Errorf("%s = %v, want %v to %v", tt.name, got, tt.want, tt.want+tt.want/histSub)
		}
	}
	if h.max != 10*time.Millisecond || h.n != 10000 {
		t.Errorf("max %v over %d, want 10ms over 10000", h.max, h.n)
	}
	for _, d := range []time.Duration{0, 1, 63, 64, 127, 128, 1000, time.Second, time.Hour} {
		if b := bucket(d); bucketStart(b) > d || bucketStart(b+1) <= d {
			t.Errorf("%v is in bucket %d = [%v, %v)", d, b, bucketStart(b), bucketStart(b+1))
		}
	}
}

// newMockAMO starts what `amojwt serve --demo` serves on the profile path:
// mockamo over a verifier with the demo key and a memory nonce store.
func newMockAMO(t *testing.T) *httptest.Server {
	t.Helper()
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	keys, err := verifier.NewStaticKeys(&verifier.Key{Issuer: testKey, Secret: verifier.Secret(testSecret), Active: true,
		User: &verifier.User{ID: 543210, ReadDevAgreement: &agreed}})
	if err != nil {
		t.Fatal(err)
	}
	store, err := noncestore.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(keys, verifier.WithNonceStore(store))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mockamo.New(v))
	t.Cleanup(srv.Close)
	return srv
}

// load runs the tool in-process with args against srv and returns its
// report and the printed text.
func load(t *testing.T, srv *httptest.Server, args ...string) (*report, string) {
	t.Helper()
	c, err := parseFlags(append([]string{"--url", srv.URL, "--secret", testSecret}, args...), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := generate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r.print(&out, c)
	t.Logf("\n%s", out.String())
	return r, out.String()
}

// TestLoadAgainstMockAMO runs the tool for 3 s at 8 connections with 10%
// replays and 10% forgeries against an in-process mock AMO: every valid
// token is accepted, every replay and forgery refused with 401, no 5xx.
func TestLoadAgainstMockAMO(t *testing.T) {
	t.Parallel()
	srv := newMockAMO(t)
	r, out := load(t, srv, "--duration", "3s", "--connections", "8", "--replay-ratio", "0.1", "--forge-ratio", "0.1")
	if r.failed() {
		t.Errorf("the run failed: %d 5xx, %d replays and %d forgeries accepted, %d errors (%v)",
			r.serverErrors(), r.accepted[kindReplay], r.accepted[kindForged], r.errors, r.firstErr)
	}
	if r.sent[kindReplay] == 0 || r.sent[kindForged] == 0 {
		t.Errorf("sent %d replays and %d forgeries, want some of each", r.sent[kindReplay], r.sent[kindForged])
	}
	if r.accepted[kindValid] != r.sent[kindValid] || r.statuses[http.StatusUnauthorized] != r.sent[kindReplay]+r.sent[kindForged] {
		t.Errorf("statuses %v for %v sent: want every valid token accepted and every other refused with 401", r.statuses, r.sent)
	}
	for _, line := range []string{"req/s", "p50", "replays    ", "forgeries  "} {
		if !strings.Contains(out, line) {
			t.Errorf("the report has no %q", line)
		}
	}
}

// TestLoadWithoutJTI sends web-ext style tokens (no jti) and forgeries:
// the valid ones are all accepted, the forgeries refused.
func TestLoadWithoutJTI(t *testing.T) {
	t.Parallel()
	srv := newMockAMO(t)
	r, _ := load(t, srv, "--duration", "1s", "--connections", "4", "--no-jti", "--forge-ratio", "0.2")
	if r.failed() || r.sent[kindForged] == 0 || r.accepted[kindValid] != r.sent[kindValid] {
		t.Errorf("statuses %v for %v sent, %d errors (%v): want valid accepted, forgeries refused",
			r.statuses, r.sent, r.errors, r.firstErr)
	}
}

// TestLoadDetectsAcceptedForgeries points the tool at a server that
// accepts everything: it must count the accepted replays and forgeries and
// fail the run.
func TestLoadDetectsAcceptedForgeries(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	args := []string{"--url", srv.URL, "--secret", testSecret, "--duration", "1s", "--connections", "2",
		"--replay-ratio", "0.3", "--forge-ratio", "0.3"}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out); !errors.Is(err, errFailed) {
		t.Fatalf("run = %v, want errFailed\n%s", err, out.String())
	}
	for _, line := range []string{"replays    0 sent, 0 accepted", "forgeries  0 sent, 0 accepted"} {
		if strings.Contains(out.String(), line) {
			t.Errorf("report:\n%s\nhas %q", out.String(), line)
		}
	}
}

// TestLoadAnonymous measures an unauthenticated endpoint: no token is sent.
func TestLoadAnonymous(t *testing.T) {
	t.Parallel()
	var withAuth atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := parseFlags([]string{"--url", srv.URL, "--anonymous", "--path", "/healthz", "--duration", "500ms", "--connections", "1"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := generate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.failed() || r.answered() == 0 || r.accepted[kindValid] != r.answered() || withAuth.Load() != 0 {
		t.Errorf("%d answered, %d 2xx, %d with Authorization, %d errors: want all 2xx without Authorization",
			r.answered(), r.accepted[kindValid], withAuth.Load(), r.errors)
	}
}

// TestLoadSlowClients holds connections the way slow clients do while it
// sends valid requests: against the mock AMO, whose refusals close the
// connection a second later, every slow client is answered and closed and
// every valid request accepted; against a handler that answers without
// reading the body on a server without a read timeout, every slow client
// is held, which the report says.
func TestLoadSlowClients(t *testing.T) {
	t.Parallel()
	const slow = 20
	// Longer than the second a refused body may take to arrive.
	r, out := load(t, newMockAMO(t), "--duration", "2s", "--connections", "2", "--slow-clients", fmt.Sprint(slow))
	if r.failed() || r.accepted[kindValid] == 0 || r.slow != (slowResult{slow, slow, slow, r.slow.lastClose}) {
		t.Errorf("mock AMO: %+v, %d valid accepted, %d errors (%v): want every slow client answered and closed",
			r.slow, r.accepted[kindValid], r.errors, r.firstErr)
	}
	if want := fmt.Sprintf("slow       %d clients: %d answered, %d closed by the server", slow, slow, slow); !strings.Contains(out, want) {
		t.Errorf("the report has no %q", want)
	}

	holding := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // net/http reads the body first
	}))
	t.Cleanup(holding.Close)
	r, out = load(t, holding, "--duration", "500ms", "--connections", "1", "--slow-clients", fmt.Sprint(slow))
	if r.slow != (slowResult{opened: slow}) {
		t.Errorf("holding server: %+v, want every slow client held", r.slow)
	}
	if want := fmt.Sprintf("0 closed by the server, %d held to the end", slow); !strings.Contains(out, want) {
		t.Errorf("the report has no %q", want)
	}
}
