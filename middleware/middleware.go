// Package middleware authenticates net/http requests that carry an
// addons.mozilla.org API JWT ("Authorization: JWT <token>") with a
// *verifier.Verifier, and answers refusals byte for byte as
// addons.mozilla.org does.
//
// New returns a func(http.Handler) http.Handler, so it mounts the same way on
// a plain http.ServeMux and on a chi router (r.Use or r.With). Handlers read
// the caller with PrincipalFrom. WithObserver sees every decision, for
// metrics; WithLogger logs them. TokenFromHeader (SPEC §2) and WriteError
// (SPEC §3, §7) are exported for code that authenticates without wrapping a
// handler.
package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// Option configures the middleware returned by New. Options only record
// settings; New checks them all at once. The zero configuration is:
// authentication required, realm DefaultRealm, WriteError as the error
// writer, no observer.
type Option func(*config)

type config struct {
	optional    bool
	realm       string
	errorWriter func(http.ResponseWriter, *http.Request, *verifier.Error)
	writerSet   bool
	observers   []observer
}

// observer is a function of WithObserver, or the one WithLogger makes; fn
// is nil when the option was given nil, which New refuses.
type observer struct {
	fn     func(*http.Request, Decision)
	option string
}

// WithOptional lets anonymous requests through without a principal: those
// with no Authorization header or a scheme other than JWT (SPEC §2.1). The
// handler must then check PrincipalFrom itself. A request that does present
// JWT credentials is still refused when they fail (a bad token never
// degrades to anonymous), and so is a malformed header (SPEC §2.3-2.5, §6).
func WithOptional() Option {
	return func(c *config) { c.optional = true }
}

// WithRealm sets the realm of the WWW-Authenticate: JWT realm="..." header
// sent with every 401 (SPEC §3). The default is DefaultRealm. A realm with
// an ASCII control character is invalid.
func WithRealm(realm string) Option {
	return func(c *config) { c.realm = realm }
}

// WithErrorWriter replaces WriteError as the writer of refusals: 401s of
// SPEC §2-§3 and 503s of SPEC §7. The writer must not call the next
// handler; err.Status() is the status addons.mozilla.org would send, and
// Challenge and ErrorBody give the rest of its answer. A nil writer is
// invalid.
func WithErrorWriter(write func(w http.ResponseWriter, r *http.Request, err *verifier.Error)) Option {
	return func(c *config) { c.errorWriter, c.writerSet = write, true }
}

// WithObserver calls observe with every decision the middleware takes,
// before the next handler runs or the refusal is written: accepted tokens,
// refusals (those of the Authorization header included) and, with
// WithOptional, anonymous requests. It runs on the request path: it must be
// fast and safe for concurrent use. Observers given by several WithObserver
// and WithLogger options run in that order. A nil observe is invalid.
func WithObserver(observe func(r *http.Request, d Decision)) Option {
	return func(c *config) { c.observers = append(c.observers, observer{observe, "WithObserver"}) }
}

// WithLogger logs one line per decision to l, through an observer (see
// WithObserver), with the message "amojwt auth" and the attributes outcome
// (accepted, anonymous or refused), status and reason (refusals), issuer
// (accepted, and refused once the issuer's key was found: a refusal for a
// bad signature or an expired token names the key, one for an unknown
// issuer does not repeat the client's text), user_id (accepted), jti (a
// short hash, never the value), reused (an accepted token whose jti was
// used before, verifier.ReplayReport), cause (a store failure), remote
// (r.RemoteAddr), method, path and latency (Decision.Latency). The level is
// Info, and Warn for a 503, a reused token or a store failure. The token,
// its signature and secrets are never logged. A nil logger is invalid.
func WithLogger(l *slog.Logger) Option {
	var fn func(*http.Request, Decision)
	if l != nil {
		fn = func(r *http.Request, d Decision) { logDecision(l, r, d) }
	}
	return func(c *config) { c.observers = append(c.observers, observer{fn, "WithLogger"}) }
}

// New returns middleware that authenticates each request with v before
// calling the next handler.
//
// For each request it reads the credentials with TokenFromHeader (SPEC §2,
// §6), checks the token with v.Check (SPEC §3-§5) and then either calls the
// next handler with the *verifier.Principal in the request context (read it
// with PrincipalFrom; SPEC §8), or answers with the error writer: 401 with
// the AMO detail text, or 503 when a key or nonce store failed (SPEC §7).
// Anonymous requests get 401 "Authentication credentials were not
// provided." unless WithOptional is given.
//
// New checks its configuration once, and invalid configuration is a
// programming error that fails at construction: New panics if v is nil or
// an option is invalid (as each option says), and the returned function
// panics if the next handler is nil. Requests never cause a panic.
func New(v *verifier.Verifier, opts ...Option) func(http.Handler) http.Handler {
	if v == nil {
		panic("middleware: nil *verifier.Verifier")
	}
	c := config{realm: DefaultRealm}
	for _, o := range opts {
		o(&c)
	}
	for i := 0; i < len(c.realm); i++ {
		if b := c.realm[i]; b < 0x20 || b == 0x7f {
			panic("middleware: WithRealm: realm contains a control character")
		}
	}
	if c.writerSet && c.errorWriter == nil {
		panic("middleware: WithErrorWriter: nil writer")
	}
	fns := make([]func(*http.Request, Decision), len(c.observers))
	for i, o := range c.observers {
		if o.fn == nil {
			panic("middleware: " + o.option + ": nil")
		}
		fns[i] = o.fn
	}
	a := &authenticator{
		v:           v,
		optional:    c.optional,
		challenge:   Challenge(c.realm),
		errorWriter: c.errorWriter,
		observe:     chain(fns),
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("middleware: nil next handler")
		}
		return &handler{authenticator: a, next: next}
	}
}

// chain returns one function that calls fns in order, nil for none.
func chain(fns []func(*http.Request, Decision)) func(*http.Request, Decision) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(r *http.Request, d Decision) {
		for _, fn := range fns {
			fn(r, d)
		}
	}
}

// authenticator is the configuration shared by every handler New wraps.
type authenticator struct {
	v           *verifier.Verifier
	optional    bool
	challenge   string // WWW-Authenticate value, built once
	errorWriter func(http.ResponseWriter, *http.Request, *verifier.Error)
	observe     func(*http.Request, Decision) // nil without observers
}

type handler struct {
	*authenticator
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time
	if h.observe != nil {
		start = time.Now()
	}
	token, present, herr := TokenFromHeader(r.Header)
	switch {
	case herr != nil:
		h.refuse(w, r, Decision{Outcome: Refused, Err: herr}, start)
	case !present && h.optional:
		h.observed(r, Decision{Outcome: Anonymous}, start)
		h.next.ServeHTTP(w, r)
	case !present:
		h.refuse(w, r, Decision{Outcome: Refused, Err: verifier.NotAuthenticated}, start)
	default:
		p, vd := h.v.Check(r.Context(), token)
		if vd.Err != nil {
			h.refuse(w, r, Decision{Outcome: Refused, Err: vd.Err, Verifier: vd}, start)
			return
		}
		h.observed(r, Decision{Outcome: Accepted, Verifier: vd, Principal: p}, start)
		h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	}
}

// observed hands d, with the time since start, to the observers.
func (h *handler) observed(r *http.Request, d Decision, start time.Time) {
	if h.observe != nil {
		d.Latency = time.Since(start)
		h.observe(r, d)
	}
}

// refusedBodyGrace is how long the rest of a refused request's body may
// take to arrive after the refusal, before the connection is closed.
const refusedBodyGrace = time.Second

// refuse observes d, a refusal, and answers r with d.Err.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, d Decision, start time.Time) {
	h.observed(r, d, start)
	if r.ContentLength != 0 {
		// The body of a refused request is never read, and net/http reads
		// what is left of it (up to 256 KiB) before it answers and again
		// before it closes: a client that announces a body and sends it
		// slowly, or never, would hold the connection for as long as the
		// server's read timeout allows (forever without one).
		// Connection: close makes net/http answer at once; the read
		// deadline lets the rest of the body arrive for a moment, so that
		// a client still sending it reads the answer rather than a reset,
		// and then ends the connection.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(refusedBodyGrace))
	}
	if h.errorWriter != nil {
		h.errorWriter(w, r, d.Err)
		return
	}
	writeError(w, h.challenge, d.Err)
}
