package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// forwardAuthAt returns serve's /auth handler over the demo keys at the
// fixed clock of the inspect goldens, logging JSON to logs.
func forwardAuthAt(t *testing.T, trust bool, logs *bytes.Buffer, opts ...verifier.Option) http.Handler {
	t.Helper()
	opts = append([]verifier.Option{verifier.WithClock(func() time.Time { return time.Unix(1700000000, 0) })}, opts...)
	v, err := verifier.New(demoKeys(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return newTestForwardAuth(v, trust, logs)
}

// newTestForwardAuth returns serve's /auth handler over v, logging JSON to
// logs.
func newTestForwardAuth(v *verifier.Verifier, trust bool, logs io.Writer) http.Handler {
	c := &serveConfig{realm: middleware.DefaultRealm, trustForwarded: trust}
	return newForwardAuthHandler(v, c, slog.New(slog.NewJSONHandler(logs, nil)), newMetrics())
}

func TestForwardAuth(t *testing.T) {
	t.Parallel()
	sign := func(claims string) string { return jwttest.Sign(inspectHeader, claims, []byte(demoSecret)) }
	valid := sign(`{"iss":"user:543210:23","jti":"a b/c","iat":1700000000,"exp":1700000060}`)
	noJTI := sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`)
	expired := sign(`{"iss":"user:543210:23","jti":"x","iat":1699999000,"exp":1699999060}`)
	challenge := `JWT realm="Access to addons.mozilla.org external API"`
	tests := []struct {
		name        string
		token       string
		down        bool // the nonce store is unreachable
		wantStatus  int
		wantHeaders map[string]string // "" means present and empty
		wantBody    string
	}{
		{"accepted", valid, false, 200, map[string]string{"X-Amo-User-Id": "543210", "X-Amo-Issuer": "user:543210:23", "X-Amo-Jti": "a%20b%2Fc"}, ""},
		{"accepted without jti", noJTI, false, 200, map[string]string{"X-Amo-User-Id": "543210", "X-Amo-Jti": ""}, ""},
		{"expired", expired, false, 401, map[string]string{"X-Amo-Status": "401", "X-Amo-Error": `{"detail":"Signature has expired."}`,
			"WWW-Authenticate": challenge, "Content-Type": "application/json"}, `{"detail":"Signature has expired."}`},
		{"no credentials", "", false, 401, map[string]string{"X-Amo-Status": "401",
			"X-Amo-Error": `{"detail":"Authentication credentials were not provided."}`}, `{"detail":"Authentication credentials were not provided."}`},
		// A store outage is a 401 that says 503: nginx would turn a 503
		// from its auth endpoint into a 500.
		{"store outage", valid, true, 401, map[string]string{"X-Amo-Status": "503", "Retry-After": "1", "WWW-Authenticate": challenge,
			"X-Amo-Error": `{"detail":"Authentication is temporarily unavailable; try again."}`},
			`{"detail":"Authentication is temporarily unavailable; try again."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []verifier.Option
			if tt.down {
				opts = append(opts, verifier.WithNonceStore(downStore{}))
			}
			h := forwardAuthAt(t, false, &bytes.Buffer{}, opts...)
			req := httptest.NewRequest(http.MethodGet, "/auth", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "JWT "+tt.token)
			}
			// A client's own identity headers never come back.
			req.Header.Set("X-Amo-User-Id", "1")
			req.Header.Set("X-Amo-Issuer", "user:1:1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("%d %q, want %d %q", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			for k, want := range tt.wantHeaders {
				if got := rec.Header().Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if tt.wantStatus != 200 {
				for k := range rec.Header() {
					if k == headerUserID || k == headerIssuer || k == headerJTI {
						t.Errorf("a refusal carries %s", k)
					}
				}
			}
		})
	}
}

// TestForwardAuthTrustForwarded logs the request the proxy reports only
// when told to trust it.
func TestForwardAuthTrustForwarded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		trust                bool
		wantMethod, wantPath string
		wantRemote           string
	}{
		{"untrusted", false, "GET", "/auth", "192.0.2.1:1234"},
		{"trusted", true, "POST", "/api/v5/addons/upload/", "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := forwardAuthAt(t, tt.trust, &logs)
			req := httptest.NewRequest(http.MethodGet, "/auth", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("X-Forwarded-Method", "POST")
			req.Header.Set("X-Forwarded-Uri", "/api/v5/addons/upload/?x=1")
			req.Header.Set("X-Forwarded-For", "203.0.113.5, 198.51.100.9")
			h.ServeHTTP(httptest.NewRecorder(), req)
			var line struct{ Method, Path, Remote string }
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("%v: %q", err, logs.String())
			}
			if line.Method != tt.wantMethod || line.Path != tt.wantPath || line.Remote != tt.wantRemote {
				t.Errorf("logged %+v, want %s %s from %s", line, tt.wantMethod, tt.wantPath, tt.wantRemote)
			}
		})
	}
}

func TestOriginalRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                            string
		headers                         map[string]string
		wantMethod, wantURI, wantRemote string
	}{
		{"none", nil, "GET", "/auth", "192.0.2.1:1234"},
		{"nginx", map[string]string{"X-Original-URI": "/app/x?y=1", "X-Real-IP": "2001:db8::1"}, "GET", "/app/x?y=1", "2001:db8::1"},
		{"traefik", map[string]string{"X-Forwarded-Method": "PUT", "X-Forwarded-Uri": "/a", "X-Forwarded-For": "203.0.113.5"}, "PUT", "/a", "203.0.113.5"},
		{"forwarded uri wins", map[string]string{"X-Forwarded-Uri": "/a", "X-Original-URI": "/b"}, "GET", "/a", "192.0.2.1:1234"},
		// Caddy and Traefik pass on the client's X-Real-IP and set
		// X-Forwarded-For.
		{"forwarded for wins", map[string]string{"X-Real-IP": "203.0.113.1", "X-Forwarded-For": "203.0.113.2, 198.51.100.9"},
			"GET", "/auth", "198.51.100.9"},
		{"forwarded for not an address", map[string]string{"X-Real-IP": "203.0.113.1", "X-Forwarded-For": "unknown"},
			"GET", "/auth", "192.0.2.1:1234"},
		{"not a request URI", map[string]string{"X-Forwarded-Uri": "no-slash"}, "GET", "/auth", "192.0.2.1:1234"},
		{"not an address", map[string]string{"X-Forwarded-For": "203.0.113.5, unknown"}, "GET", "/auth", "192.0.2.1:1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/auth", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			got := originalRequest(req)
			if got.Method != tt.wantMethod || got.URL.RequestURI() != tt.wantURI || got.RemoteAddr != tt.wantRemote {
				t.Errorf("%s %s from %s, want %s %s from %s", got.Method, got.URL.RequestURI(), got.RemoteAddr,
					tt.wantMethod, tt.wantURI, tt.wantRemote)
			}
			if req.Method != http.MethodGet || req.URL.Path != "/auth" || req.RemoteAddr != "192.0.2.1:1234" {
				t.Error("the original request was changed")
			}
		})
	}
}

func TestStripIdentity(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("X-Amo-User-Id", "1")
	h.Set("X-Amo-Anything", "x")
	h["x-amo-raw"] = []string{"not canonical"}
	h["X_Amo_User_Id"] = []string{"read as HTTP_X_AMO_USER_ID by CGI-style servers"}
	h["X.amo.jti"] = []string{"also"}
	h.Set("X-Amos", "kept")
	h.Set("Accept", "kept")
	stripIdentity(h)
	var left []string
	for k := range h {
		left = append(left, k)
	}
	if len(left) != 2 || h.Get("X-Amos") != "kept" || h.Get("Accept") != "kept" {
		t.Errorf("left %v", strings.Join(left, ","))
	}
}
