// Package mockamo serves the part of the addons.mozilla.org (AMO) v3/v4/v5
// API that a client checks its API key with, behind the amojwt middleware:
// GET /api/{v3,v4,v5}/accounts/profile/ (SPEC §8, docs/AMO.md §7). It
// answers as AMO's Django REST framework views do, byte for byte where AMO
// defines the bytes: the 401s of SPEC §2-§3, 405 `Method "POST" not
// allowed.` after authentication, and {"detail":"Not found."} for unknown
// paths.
//
// With WithSubmissions it also serves the add-on submission API that
// `web-ext sign` uses (upload, validation, add-on and version creation,
// review, download of the file), so that a signing pipeline can be tested
// end to end against it; see Submissions. The mock never signs anything:
// the "signed" file it serves is the upload, unchanged, with
// NotSignedHeader.
//
// This package is the HTTP side of the mock: routing, reading requests,
// rendering AMO's bodies, and turning errors into AMO's statuses (in one
// place, writeError). The submission simulator itself (state, rules,
// persistence, archive validation) lives under mockamo/internal and is
// reached only through Submissions, its options and Limits.
package mockamo

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// Option configures the handler returned by New.
type Option func(*config)

type config struct {
	baseURL  string
	authOpts []middleware.Option
	now      func() time.Time
	subs     *Submissions
}

// WithBaseURL sets the site URL that profile URLs start with, as AMO's
// EXTERNAL_SITE_URL: "https://addons.example" gives
// "https://addons.example/en-US/firefox/user/<id>/". The default is
// taken from each request: http or https (with TLS), then its Host header.
// New panics unless base is an absolute http or https URL with a host and no
// query or fragment; a trailing slash is dropped.
func WithBaseURL(base string) Option {
	return func(c *config) { c.baseURL = base }
}

// WithAuth passes options to the middleware.New that guards every endpoint:
// a realm, a logger, an error writer. WithOptional has no effect: every
// endpoint here requires authentication, as AMO's do.
func WithAuth(opts ...middleware.Option) Option {
	return func(c *config) { c.authOpts = append(c.authOpts, opts...) }
}

// WithClock sets the clock that gives the profile's last_login (AMO records
// every JWT-authenticated request as a login, docs/AMO.md §4.3); the
// default is time.Now. New panics if now is nil.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithSubmissions serves the submission endpoints from s (see New). Without
// it only the profile endpoint is served.
func WithSubmissions(s *Submissions) Option {
	return func(c *config) { c.subs = s }
}

// New returns a chi router that authenticates requests with v (through
// middleware.New) and serves:
//
//   - GET and HEAD /api/{v3,v4,v5}/accounts/profile/: 200 with the caller's
//     profile (SPEC §8; see Profile for the fields);
//   - OPTIONS on that path: 200 with DRF's view metadata;
//   - any other method on that path: 405 {"detail":"Method \"<METHOD>\" not
//     allowed."} with Allow: GET, HEAD, OPTIONS, after authentication, as
//     DRF authenticates before it dispatches (docs/AMO.md §1.1), so an
//     anonymous POST gets the 401;
//   - with WithSubmissions, each behind authentication, answered as AMO
//     does (statuses, DRF error bodies) with the caller's user id as owner:
//     POST and GET /api/v5/addons/upload/ (multipart "upload" and
//     "channel"; the caller's uploads), GET /api/v5/addons/upload/<uuid>/,
//     POST /api/v5/addons/addon/, GET and PUT
//     /api/v5/addons/addon/<guid|id|slug>/, GET and PATCH
//     /api/v5/addons/addon/<addon>/versions/<id|number>/, GET
//     /firefox/downloads/file/<id>/<name> (the upload, NOT signed: see
//     NotSignedHeader), GET /firefox/downloads/source/<version id>, and the
//     knobs POST /__mockamo/fail-next-upload and
//     /__mockamo/reject-next-review (for the caller's next upload or
//     version). A caller without a user id gets 403 on all of them (SPEC
//     §8), and a request that would store more than Limits allow 413;
//   - with every answer to a token accepted although its jti was used
//     before (verifier.ReplayReport), the header TokenReusedHeader: true;
//   - any other path: 404 {"detail":"Not found."} without authentication,
//     as Django resolves URLs before any view runs. A path without its
//     final slash is not found (AMO would redirect a GET to the slash).
//
// Invalid configuration panics at construction, as in middleware.New: a nil
// v, an invalid WithBaseURL, a nil WithClock.
func New(v *verifier.Verifier, opts ...Option) http.Handler {
	c := config{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.now == nil {
		panic("mockamo: WithClock: nil clock")
	}
	if c.baseURL != "" {
		c.baseURL = checkBaseURL(c.baseURL)
	}
	mw := middleware.New(v, c.authOpts...)
	auth := func(h http.Handler) http.Handler { return mw(reportReuse(h)) }
	prof := &profileHandler{baseURL: c.baseURL, now: c.now}
	handlers := map[string]http.Handler{"/api/{version:v[345]}/accounts/profile/": auth(prof)}
	if c.subs != nil {
		for pattern, e := range (&api{s: c.subs, prof: prof}).routes() {
			handlers[pattern] = auth(e)
		}
	}

	r := chi.NewRouter()
	r.NotFound(notFound)
	for pattern, h := range handlers {
		r.Handle(pattern, h)
	}
	// chi answers methods it does not know (PROPFIND, ...) here, before
	// routing; DRF would authenticate them on a known path, then 405.
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		if h := handlers[r.Find(chi.NewRouteContext(), http.MethodGet, req.URL.Path)]; h != nil {
			h.ServeHTTP(w, req)
			return
		}
		notFound(w, req)
	})
	return r
}

// TokenReusedHeader is set to "true" on the answer to a request whose token
// was accepted although its jti was used before (Principal.Reused, under
// verifier.ReplayReport), so that a client's test sees which of its
// requests reused a token, as addons.mozilla.org allows (SPEC §5).
const TokenReusedHeader = "X-Amojwt-Token-Reused"

// reportReuse sets TokenReusedHeader on the answers of next to requests
// whose principal is Reused.
func reportReuse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := middleware.PrincipalFrom(r.Context()); ok && p.Reused {
			w.Header().Set(TokenReusedHeader, "true")
		}
		next.ServeHTTP(w, r)
	})
}

// checkBaseURL returns base without its trailing slash, or panics.
func checkBaseURL(base string) string {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		panic("mockamo: WithBaseURL: want an absolute http(s) URL with a host, got " + base)
	}
	return strings.TrimSuffix(base, "/")
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeDetail(w, http.StatusNotFound, detailNotFound)
}

// allowed is DRF's Allow header for a GET-only APIView: Django adds HEAD
// for GET, APIView adds OPTIONS.
const allowed = "GET, HEAD, OPTIONS"

// methodNotAllowed answers as DRF's MethodNotAllowed does. Django
// upper-cases the method.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	methodNotAllowedAllow(w, r, allowed)
}

// methodNotAllowedAllow is methodNotAllowed for a view whose Allow header
// is allow.
func methodNotAllowedAllow(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeDetail(w, http.StatusMethodNotAllowed, `Method "`+strings.ToUpper(r.Method)+`" not allowed.`)
}
