package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

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
