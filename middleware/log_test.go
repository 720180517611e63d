package middleware_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/amojwt/amojwt/middleware"
)

// TestLogIssuerOnRefusals checks that a refusal names the key once the
// verifier found it (SPEC §3 rows 4 onwards), and never the client's text
// for an issuer that is not a key.
func TestLogIssuerOnRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		auth       string
		wantReason string
		wantIssuer any // nil: no issuer attribute
	}{
		{"bad signature names the key", "JWT " + tokBadSignature, "signature", testIssuer},
		{"expired names the key", "JWT " + tokExpired, "expired", testIssuer},
		{"unknown issuer is not repeated", "JWT " + tokUnknownIssuer, "issuer_unknown", nil},
		{"malformed token", "JWT a.b", "malformed", nil},
		{"no credentials", "", "not_authenticated", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			h := middleware.New(newVerifier(t), middleware.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))(whoami)
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("log %q: %v", buf.String(), err)
			}
			if got["outcome"] != "refused" || got["reason"] != tt.wantReason || got["issuer"] != tt.wantIssuer {
				t.Errorf("logged %s, want reason %s and issuer %v", buf.String(), tt.wantReason, tt.wantIssuer)
			}
		})
	}
}

// TestLogReplayNamesIssuer checks the line of a replay: the second use of a
// token is refused and names the key whose nonce was reused.
func TestLogReplayNamesIssuer(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := middleware.New(newVerifier(t), middleware.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))(whoami)
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Authorization", "JWT "+tokA)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(lines[1], &got); err != nil {
		t.Fatal(err)
	}
	if got["reason"] != "replayed" || got["issuer"] != testIssuer {
		t.Errorf("replay logged %s", lines[1])
	}
}
