package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/jwtauth/v5"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/amojwt/amojwt/middleware"
)

// discard is a ResponseWriter that keeps nothing, so the benchmarks measure
// the middleware and not a recorder.
type discard http.Header

func (d discard) Header() http.Header       { return http.Header(d) }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// BenchmarkVerify is the baseline for BenchmarkMiddleware: Verify alone on
// an accepted token without jti (no store call).
func BenchmarkVerify(b *testing.B) {
	v := newVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tokNoJTI); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddleware is one accepted request through the middleware to a
// handler that reads the principal: its time minus BenchmarkVerify's is
// what the middleware adds.
func BenchmarkMiddleware(b *testing.B) {
	h := middleware.New(newVerifier(b))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := middleware.PrincipalFrom(r.Context()); !ok {
			b.Fatal("no principal")
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/api/v5/accounts/profile/", nil)
	req.Header.Set("Authorization", "JWT "+tokNoJTI)
	w := discard{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkMiddlewareRefused is one anonymous request answered with the
// AMO 401.
func BenchmarkMiddlewareRefused(b *testing.B) {
	h := middleware.New(newVerifier(b))(http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/api/v5/accounts/profile/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(discard{}, req)
	}
}

// chiProfile is the route the chi benchmarks serve: a handler that reads
// the caller, behind whatever authentication the benchmark mounts.
func chiProfile(auth ...func(http.Handler) http.Handler) http.Handler {
	r := chi.NewRouter()
	r.With(auth...).Get("/api/v5/accounts/profile/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	return r
}

func benchChi(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/api/v5/accounts/profile/", nil)
	req.Header.Set("Authorization", "JWT "+tokNoJTI)
	w := discard{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkChiAlone is the chi router with no authentication: the floor
// of the two benchmarks below.
func BenchmarkChiAlone(b *testing.B) {
	benchChi(b, chiProfile())
}

// BenchmarkChiMiddleware is amojwt's middleware on a chi route, the whole
// of SPEC §2-§3 per request.
func BenchmarkChiMiddleware(b *testing.B) {
	benchChi(b, chiProfile(middleware.New(newVerifier(b))))
}

// BenchmarkChiJWTAuth is go-chi/jwtauth (jwx's jwt.Parse) on the same
// route and token, reading the "JWT" scheme: HS256 with the one key it
// knows, exp/iat with 5 s of skew, no issuer lookup and no AMO rules.
func BenchmarkChiJWTAuth(b *testing.B) {
	ja := jwtauth.New("HS256", []byte(testSecret), []byte(testSecret),
		jwt.WithClock(jwt.ClockFunc(testClock)), jwt.WithAcceptableSkew(5*time.Second))
	fromJWT := func(r *http.Request) string {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "JWT ")
		return tok
	}
	benchChi(b, chiProfile(jwtauth.Verify(ja, fromJWT), jwtauth.Authenticator(ja)))
}
