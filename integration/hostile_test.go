package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/internal/vectors"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// hostileSecret signs the tokens of these tests.
const hostileSecret = "c2b9e1f0a7d64e3b8f5a2c1d0e9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b"

// maxHostileAlloc is the most a refused oversized header may allocate per
// request, through the middleware (issue 4: under 64 KiB).
const maxHostileAlloc = 64 << 10

// TestOversizedRefusedBeforeWork sends the oversized inputs of SPEC §6
// through the middleware: each is refused with 401 "Error decoding
// signature." before the issuer is looked up (so before any HMAC, which
// needs the key) and with a bounded allocation, whatever its size.
//
// Not parallel: it reads the process's allocation counters.
func TestOversizedRefusedBeforeWork(t *testing.T) {
	keys := newHostileKeys(t)
	v, err := verifier.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int64
	h := middleware.New(v)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))

	dots := strings.Repeat(".", 1_000_000)
	tests := []struct {
		name   string
		values []string
	}{
		{"one million dots", []string{dots}},
		{"JWT and one million dots", []string{"JWT " + dots}},
		{"two headers of one million dots", []string{dots, dots}},
		{"1 MiB correctly signed token", []string{"JWT " + hostileToken("big", `,"pad":"`+strings.Repeat("a", 786_000)+`"`)}},
		{"claims nested 100 000 levels deep", []string{"JWT " + hostileToken("deep", `,"x":`+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000))}},
		{"64 KiB jti", []string{"JWT " + hostileToken(strings.Repeat("j", 64<<10), "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header["Authorization"] = tt.values
			w := &discardWriter{header: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != http.StatusUnauthorized || w.body != `{"detail":"Error decoding signature."}` {
				t.Fatalf("got %d %s, want 401 Error decoding signature.", w.status, w.body)
			}
			bytes, allocs := allocated(20, func() {
				clear(w.header)
				h.ServeHTTP(w, req)
			})
			t.Logf("%d bytes in %d allocations per request", bytes, allocs)
			if bytes >= maxHostileAlloc {
				t.Errorf("%d bytes allocated per request, want under %d", bytes, maxHostileAlloc)
			}
		})
	}
	if n := keys.lookups.Load(); n != 0 {
		t.Errorf("%d key lookups: an oversized token reached the issuer check", n)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the protected handler ran %d times", n)
	}
}

// TestRefusedTokensNeverTouchTheStore runs every vector of every vectors
// file through a verifier whose nonce store counts its claims: the store is
// called exactly for the tokens that passed every other check (SPEC §3 row
// 15, §5), so badly signed, expired or otherwise refused tokens, in any
// order of faults, never touch it.
func TestRefusedTokensNeverTouchTheStore(t *testing.T) {
	t.Parallel()
	suites, err := vectors.LoadAll("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, suite := range suites {
		keys := suite.MapKeys()
		for _, c := range suite.Cases {
			if c.HTTPOnly {
				continue
			}
			t.Run(suite.File+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				var clock vectors.Clock
				var store *countingStore
				v, err := c.NewVerifierWrapped(keys, &clock, func(s noncestore.Store) noncestore.Store {
					store = &countingStore{Store: s}
					return store
				})
				if err != nil {
					t.Fatal(err)
				}
				for i, u := range c.Uses {
					clock.Set(u.Now)
					before := store.claims.Load()
					_, err := v.Verify(context.Background(), u.Token)
					got := store.claims.Load() - before
					if want := wantClaims(c, u, err); got != want {
						t.Errorf("use %d (expect %d %s): %d claims, want %d", i+1, u.Expect.Status, u.Expect.Reason, got, want)
					}
				}
			})
		}
	}
}

// wantClaims is how many nonce store claims SPEC §3 row 15 and §5 allow for
// one use: one for a jti-bearing token that passed every other check
// (accepted, replayed, refused by the reset guard, or answered 503 by a
// failing nonce store), none otherwise, and none at all under
// verifier.ReplayAllow.
func wantClaims(c vectors.Case, u vectors.Use, err error) int64 {
	switch {
	case c.Replay == verifier.ReplayAllow:
		return 0
	case u.Expect.Status == http.StatusOK:
		if u.Expect.Nonce != "" {
			return 1
		}
		return 0
	case u.Expect.Reason == verifier.ReasonReplayed, u.Expect.Reason == verifier.ReasonNonceStoreReset:
		return 1
	case u.Expect.Status == http.StatusServiceUnavailable && !errors.Is(err, vectors.ErrBrokenKeyStore):
		return 1
	}
	return 0
}

// TestKeyHeadersFetchNothing sends valid tokens whose headers point jku,
// x5u, jwk and kid at a loopback listener: they are accepted with the key
// of their iss, and nothing connects to the listener (SPEC §3: the key
// always comes from the iss lookup and nothing is ever fetched).
func TestKeyHeadersFetchNothing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var dialed atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			conn.Close()
		}
	}()
	url := "http://" + ln.Addr().String()
	v, err := verifier.New(newHostileKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	headers := []string{
		`{"alg":"HS256","jku":"` + url + `/jwks.json"}`,
		`{"alg":"HS256","x5u":"` + url + `/cert.pem"}`,
		`{"alg":"HS256","jwk":{"kty":"oct","k":"YXR0YWNrZXI","x5u":"` + url + `/jwk"}}`,
		`{"alg":"HS256","kid":"` + url + `/kid"}`,
	}
	for i, header := range headers {
		claims := hostileClaims(fmt.Sprint("fetch-", i), "")
		if _, err := v.Verify(context.Background(), jwttest.Sign(header, claims, []byte(hostileSecret))); err != nil {
			t.Errorf("header %s: %v, want accepted", header, err)
		}
	}
	// Anything that did fetch has had ample time to connect on loopback.
	time.Sleep(100 * time.Millisecond)
	ln.Close()
	if n := dialed.Load(); n != 0 {
		t.Errorf("%d connections to the URLs in the headers, want none", n)
	}
}

// newHostileKeys is a counting key store holding testIssuer with
// hostileSecret.
func newHostileKeys(t *testing.T) *countingKeys {
	t.Helper()
	static, err := verifier.NewStaticKeys(&verifier.Key{Issuer: testIssuer, Secret: verifier.Secret(hostileSecret), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return &countingKeys{KeyStore: static}
}

// hostileClaims are currently valid claims for testIssuer with jti and
// extra, raw JSON members appended (or "").
func hostileClaims(jti, extra string) string {
	now := time.Now().Unix()
	return fmt.Sprintf(`{"iss":%q,"jti":%q,"iat":%d,"exp":%d%s}`, testIssuer, jti, now, now+60, extra)
}

// hostileToken is a token of hostileClaims(jti, extra) signed with
// hostileSecret.
func hostileToken(jti, extra string) string {
	return jwttest.Sign(`{"alg":"HS256","typ":"JWT"}`, hostileClaims(jti, extra), []byte(hostileSecret))
}

// allocated runs f n times and returns the bytes and allocations per run,
// from the process's counters (so other goroutines can only add to them).
func allocated(n int, f func()) (bytes, allocs uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n), (after.Mallocs - before.Mallocs) / uint64(n)
}

// discardWriter is an http.ResponseWriter that keeps the status and body of
// the last response and allocates nothing of its own.
type discardWriter struct {
	header http.Header
	status int
	body   string
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) { w.status = status }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.body != string(p) {
		w.body = string(p)
	}
	return len(p), nil
}
