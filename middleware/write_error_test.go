package middleware_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// refusal is the *verifier.Error that v answers a token of claims with,
// signed with the test key.
func refusal(tb testing.TB, v *verifier.Verifier, claims string) *verifier.Error {
	tb.Helper()
	_, err := v.Verify(context.Background(), jwttest.Sign(testHeader, claims, []byte(testSecret)))
	verr, ok := errors.AsType[*verifier.Error](err)
	if !ok {
		tb.Fatalf("claims %s: got %v, want a refusal", claims, err)
	}
	return verr
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	v := newVerifier(t)
	down := newVerifier(t, verifier.WithNonceStore(failingStore{}))
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
			err:        verifier.NotAuthenticated,
			wantStatus: 401,
			wantBody:   `{"detail":"Authentication credentials were not provided."}`,
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "wrong type has no final period",
			realm:      middleware.DefaultRealm,
			err:        refusal(t, v, `{"iss":"user:543210:23","iat":[],"exp":1700000060}`),
			wantStatus: 401,
			wantBody:   `{"detail":"Wrong type for one or more keys in payload"}`,
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "quotes are escaped in the body",
			realm:      middleware.DefaultRealm,
			err:        refusal(t, v, `{"iss":"user:543210:23","iat":1700000000}`),
			wantStatus: 401,
			wantBody:   `{"detail":"Invalid JWT: Token is missing the \"exp\" claim."}`,
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "backquotes are not escaped",
			realm:      middleware.DefaultRealm,
			err:        refusal(t, v, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060,"orig_iat":1}`),
			wantStatus: 401,
			wantBody:   "{\"detail\":\"API key based tokens are not refreshable, don't include `orig_iat` in their payload.\"}",
			wantAuth:   `JWT realm="Access to addons.mozilla.org external API"`,
		},
		{
			name:       "custom realm is quoted",
			realm:      `my "api" \ realm`,
			err:        refusal(t, v, `{"iss":"user:543210:23","iat":1699999000,"exp":1699999060}`),
			wantStatus: 401,
			wantBody:   `{"detail":"Signature has expired."}`,
			wantAuth:   `JWT realm="my \"api\" \\ realm"`,
		},
		{
			name:       "store unavailable",
			realm:      middleware.DefaultRealm,
			err:        refusal(t, down, `{"iss":"user:543210:23","jti":"u","iat":1700000000,"exp":1700000060}`),
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
			if got := rec.Body.String(); got != tt.wantBody || string(middleware.ErrorBody(tt.err)) != tt.wantBody {
				t.Errorf("body %s (ErrorBody %s), want %s", got, middleware.ErrorBody(tt.err), tt.wantBody)
			}
			h := rec.Result().Header
			if got := h.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
				t.Errorf("Content-Type %q, want [application/json]", got)
			}
			if got := h.Get("WWW-Authenticate"); got != tt.wantAuth || (tt.wantAuth != "" && middleware.Challenge(tt.realm) != tt.wantAuth) {
				t.Errorf("WWW-Authenticate %q (Challenge %q), want %q", got, middleware.Challenge(tt.realm), tt.wantAuth)
			}
			if got := h.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
		})
	}
}
