package middleware_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// exampleVerifier is a verifier for the key user:543210:23 that remembers
// nonces in memory. Its clock is stopped at the time the examples' tokens
// were signed, so that they stay valid; a real server leaves it at time.Now.
func exampleVerifier() *verifier.Verifier {
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: "user:543210:23",
		Secret: verifier.Secret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		Active: true,
	})
	if err != nil {
		panic(err)
	}
	v, err := verifier.New(keys, verifier.WithClock(func() time.Time { return time.Unix(1700000000, 0) }))
	if err != nil {
		panic(err)
	}
	return v
}

// send makes a GET request with the Authorization header auth (none when
// empty) and prints the answer.
func send(h http.Handler, path, auth string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
}

// Mount the middleware on a plain net/http ServeMux. Every request to
// /api/ needs a valid token; the handler reads the caller with
// PrincipalFrom.
func ExampleNew() {
	v := exampleVerifier()

	mux := http.NewServeMux()
	mux.Handle("/api/", middleware.New(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello user %d", p.UserID)
	})))

	// {"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}
	token := tokA
	send(mux, "/api/hello", "JWT "+token)
	send(mux, "/api/hello", "JWT "+token) // a jti makes a token single-use
	send(mux, "/api/hello", "")
	// Output:
	// 200 hello user 543210
	// 401 {"detail":"JWT jti (nonce) has already been used."}
	// 401 {"detail":"Authentication credentials were not provided."}
}

// Mount the middleware on a chi router: required on one group of routes,
// optional on another, where anonymous requests come through without a
// principal but a bad token is still refused.
func ExampleNew_chi() {
	v := exampleVerifier()

	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(middleware.New(v))
		r.Get("/api/v5/accounts/profile/", func(w http.ResponseWriter, r *http.Request) {
			p, _ := middleware.PrincipalFrom(r.Context())
			fmt.Fprintf(w, "profile of %s", p.Issuer)
		})
	})
	r.With(middleware.New(v, middleware.WithOptional())).Get("/api/v5/addons/", func(w http.ResponseWriter, r *http.Request) {
		if p, ok := middleware.PrincipalFrom(r.Context()); ok {
			fmt.Fprintf(w, "add-ons of user %d", p.UserID)
			return
		}
		fmt.Fprint(w, "public add-ons")
	})

	// {"iss":"user:543210:23","iat":1700000000,"exp":1700000060}, no jti:
	// reusable until it expires, as on addons.mozilla.org (SPEC §5).
	token := tokNoJTI
	send(r, "/api/v5/accounts/profile/", "JWT "+token)
	send(r, "/api/v5/accounts/profile/", "Bearer "+token)
	send(r, "/api/v5/addons/", "Bearer "+token)
	send(r, "/api/v5/addons/", "JWT "+token)
	send(r, "/api/v5/addons/", "JWT")
	// Output:
	// 200 profile of user:543210:23
	// 401 {"detail":"Authentication credentials were not provided."}
	// 200 public add-ons
	// 200 add-ons of user 543210
	// 401 {"detail":"Invalid Authorization header. No credentials provided."}
}

// TokenFromHeader and WriteError serve handlers that authenticate without
// wrapping another handler, such as a forward-auth endpoint.
func ExampleTokenFromHeader() {
	v := exampleVerifier()
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, present, herr := middleware.TokenFromHeader(r.Header)
		if herr != nil {
			middleware.WriteError(w, middleware.DefaultRealm, herr)
			return
		}
		if !present {
			middleware.WriteError(w, middleware.DefaultRealm, verifier.NotAuthenticated)
			return
		}
		p, d := v.Check(r.Context(), token)
		if d.Err != nil {
			middleware.WriteError(w, middleware.DefaultRealm, d.Err)
			return
		}
		w.Header().Set("X-Amo-User-Id", fmt.Sprint(p.UserID))
	})

	send(auth, "/auth", "JWT a b")
	send(auth, "/auth", "JWT "+tokExpired)
	send(auth, "/auth", "JWT "+tokNoJTI)
	// Output:
	// 401 {"detail":"Invalid Authorization header. Credentials string should not contain spaces."}
	// 401 {"detail":"Signature has expired."}
	// 200
}

// Count decisions for metrics with one observer: it sees every request the
// middleware decides on, refusals of the Authorization header included.
func ExampleWithObserver() {
	v := exampleVerifier()
	counts := map[string]int{}
	observe := func(r *http.Request, d middleware.Decision) {
		key := d.Outcome.String()
		if d.Err != nil {
			key += " " + string(d.Err.Reason()) + " (SPEC " + d.Err.Rule().String() + ")"
		}
		counts[key]++ // a real observer must be safe for concurrent use
	}
	h := middleware.New(v, middleware.WithObserver(observe))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	for _, auth := range []string{"JWT " + tokA, "JWT " + tokA, "JWT", "", "JWT " + tokExpired} {
		req := httptest.NewRequest(http.MethodGet, "/api/v5/accounts/profile/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Println(counts[k], k)
	}
	// Output:
	// 1 accepted
	// 1 refused expired (SPEC §3 row 9)
	// 1 refused header_malformed (SPEC §2.3)
	// 1 refused not_authenticated (SPEC §2.1)
	// 1 refused replayed (SPEC §3 row 15)
}
