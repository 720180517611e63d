package middleware_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		realm      string
		err        *verifier.Error
		wantStatus int
		wantBody   string
		wantAuth   string // WWW-Authenticate; "" when absent
		wantRetry  string // Retry-After; "" when absent
	}{
		{
			name:       "not authenticated",
			realm:      middleware.DefaultRealm,
			err:        verifier.NewError(verifier.ReasonNotAuthenticated, verifier.DetailNotAuthenticated),
			wantStatus: 401,
			wantBody:   `{"detail":"Authentication credentials were not provided."}`,
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "wrong type has no final period",
			realm:      middleware.DefaultRealm,
			err:        verifier.NewError(verifier.ReasonClaimType, verifier.DetailWrongType),
			wantStatus: 401,
			wantBody:   `{"detail":"Wrong type for one or more keys in payload"}`,
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "quotes are escaped in the body",
			realm:      middleware.DefaultRealm,
			err:        verifier.NewError(verifier.ReasonClaimMissing, verifier.DetailExpMissing),
			wantStatus: 401,
			wantBody:   `{"detail":"Invalid JWT: Token is missing the \"exp\" claim."}`,
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "backquotes are not escaped",
			realm:      middleware.DefaultRealm,
			err:        verifier.NewError(verifier.ReasonRefreshable, verifier.DetailRefreshable),
			wantStatus: 401,
			wantBody:   "{\"detail\":\"API key based tokens are not refreshable, don't include `orig_iat` in their payload.\"}",
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "custom realm is quoted",
			realm:      `my "api" \ realm`,
			err:        verifier.NewError(verifier.ReasonExpired, verifier.DetailExpired),
			wantStatus: 401,
			wantBody:   `{"detail":"Signature has expired."}`,
			wantAuth:   `JWT realm="my \"api\" \\ realm"`,
		},
		{
			name:       "store unavailable",
			realm:      middleware.DefaultRealm,
			err:        &verifier.Error{Reason: verifier.ReasonUnavailable, Detail: verifier.DetailUnavailable, Cause: errors.New("dial tcp: refused")},
			wantStatus: 503,
			wantBody:   `{"detail":"Authentication is temporarily unavailable; try again."}`,
			wantRetry:  "1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			middleware.WriteError(rec, tt.realm, tt.err)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body %s, want %s", got, tt.wantBody)
			}
			h := rec.Result().Header
			if got := h.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
				t.Errorf("Content-Type %q, want [application/json]", got)
			}
			if got := h.Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantAuth)
			}
			if got := h.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
		})
	}
}

func TestWriteDetail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		detail string
		want   string
	}{
		{name: "DRF 405", detail: `Method "POST" not allowed.`, want: `{"detail":"Method \"POST\" not allowed."}`},
		{name: "backslash", detail: `a\b`, want: `{"detail":"a\\b"}`},
		{name: "short escapes", detail: "\n\r\t\b\f", want: `{"detail":"\n\r\t\b\f"}`},
		{name: "other control characters", detail: "\x00\x1f", want: `{"detail":"\u0000\u001f"}`},
		{name: "DEL and HTML characters as is", detail: "\x7f<>&'", want: "{\"detail\":\"\x7f<>&'\"}"},
		{name: "non-ASCII as UTF-8", detail: "Krstić €", want: `{"detail":"Krstić €"}`},
		{name: "line and paragraph separators", detail: "a\u2028b\u2029c", want: `{"detail":"a\u2028b\u2029c"}`},
		{name: "invalid UTF-8", detail: "a\xffb", want: "{\"detail\":\"a\uFFFDb\"}"},
		{name: "empty", detail: "", want: `{"detail":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			middleware.WriteDetail(rec, http.StatusNotFound, tt.detail)
			if rec.Code != http.StatusNotFound {
				t.Errorf("status %d, want 404", rec.Code)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body %s, want %s", got, tt.want)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
}

// FuzzWriteDetail checks that every body is one JSON object whose detail
// reads back as the input, and that it matches encoding/json's spelling
// without HTML escaping (the spelling of Python's json.dumps with
// ensure_ascii=False plus DRF's U+2028/U+2029 escapes).
func FuzzWriteDetail(f *testing.F) {
	for _, s := range []string{"", "Signature has expired.", `"\`, "\x00\u2028é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, detail string) {
		rec := httptest.NewRecorder()
		middleware.WriteDetail(rec, http.StatusUnauthorized, detail)
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 1 {
			t.Fatalf("body %q is not {\"detail\": string}: %v", rec.Body.Bytes(), err)
		}
		if !utf8.ValidString(detail) {
			return
		}
		if got["detail"] != detail {
			t.Errorf("detail reads back as %q, want %q", got["detail"], detail)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]string{"detail": detail}); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String() + "\n"; got != want.String() {
			t.Errorf("body %q, encoding/json writes %q", got, want.String())
		}
	})
}
