// Package middleware authenticates net/http requests that carry an
// addons.mozilla.org API JWT ("Authorization: JWT <token>") with a
// *verifier.Verifier, and answers refusals byte for byte as
// addons.mozilla.org does.
//
// New returns a func(http.Handler) http.Handler, so it mounts the same way on
// a plain http.ServeMux and on a chi router (r.Use or r.With). Handlers read
// the caller with PrincipalFrom. TokenFromHeader (SPEC §2) and WriteError
// (SPEC §3, §7) are exported for code that authenticates without wrapping a
// handler, such as a forward-auth endpoint.
package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// Option configures the middleware returned by New. The zero configuration
// is: authentication required, realm DefaultRealm, WriteError as the error
// writer, no logging.
type Option func(*config)

type config struct {
	optional    bool
	realm       string
	errorWriter func(http.ResponseWriter, *http.Request, *verifier.Error)
	writerSet   bool
	logger      *slog.Logger
	loggerSet   bool
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
// sent with every 401 (SPEC §3). The default is DefaultRealm. New panics if
// realm contains an ASCII control character.
func WithRealm(realm string) Option {
	return func(c *config) { c.realm = realm }
}

// WithErrorWriter replaces WriteError as the writer of refusals: 401s of
// SPEC §2-§3 and 503s of SPEC §7. The writer must not call the next
// handler; err.Status() is the status addons.mozilla.org would send. New
// panics if write is nil.
func WithErrorWriter(write func(w http.ResponseWriter, r *http.Request, err *verifier.Error)) Option {
	return func(c *config) { c.errorWriter, c.writerSet = write, true }
}

// WithLogger logs one line per request the middleware decides on, at Info
// (Warn for a 503), with the message "amojwt auth" and the attributes
// outcome (accepted, anonymous or refused), status and reason (refusals),
// issuer (accepted, and refused once the issuer's key was found: a refusal
// for a bad signature or an expired token names the key, one for an unknown
// issuer does not repeat the client's text), user_id (accepted), jti (a
// short hash, never the value), cause
// (503 only), remote (r.RemoteAddr), method, path and latency (the time
// the decision took). The token, its signature and secrets are never
// logged. New panics if l is nil.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger, c.loggerSet = l, true }
}

// New returns middleware that authenticates each request with v before
// calling the next handler.
//
// For each request it reads the credentials with TokenFromHeader (SPEC §2,
// §6), verifies the token with v.Verify (SPEC §3-§5) and then either calls
// the next handler with the *verifier.Principal in the request context (read
// it with PrincipalFrom; SPEC §8), or answers with the error writer: 401 with
// the AMO detail text, or 503 when a key or nonce store failed (SPEC §7).
// Anonymous requests get 401 "Authentication credentials were not
// provided." unless WithOptional is given.
//
// Invalid configuration is a programming error and fails at construction:
// New panics if v is nil or an option's value is invalid, and the returned
// function panics if the next handler is nil. Requests never cause a panic.
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
	if c.loggerSet && c.logger == nil {
		panic("middleware: WithLogger: nil logger")
	}
	a := &authenticator{
		v:           v,
		optional:    c.optional,
		challenge:   challenge(c.realm),
		errorWriter: c.errorWriter,
		logger:      c.logger,
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("middleware: nil next handler")
		}
		return &handler{authenticator: a, next: next}
	}
}

// authenticator is the configuration shared by every handler New wraps.
type authenticator struct {
	v           *verifier.Verifier
	optional    bool
	challenge   string // WWW-Authenticate value, built once
	errorWriter func(http.ResponseWriter, *http.Request, *verifier.Error)
	logger      *slog.Logger
}

type handler struct {
	*authenticator
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time
	if h.logger != nil {
		start = time.Now()
	}
	token, present, herr := TokenFromHeader(r.Header)
	switch {
	case herr != nil:
		h.refuse(w, r, herr, "", start)
	case !present && h.optional:
		h.logAnonymous(r, start)
		h.next.ServeHTTP(w, r)
	case !present:
		h.refuse(w, r, errNotAuthenticated, "", start)
	default:
		// Check rather than Verify: the Decision names the issuer of a
		// refused token once its key was found, for the log line.
		p, d := h.v.Check(r.Context(), token)
		if d.Err != nil {
			h.refuse(w, r, asError(d.Err), d.Issuer, start)
			return
		}
		h.logAccepted(r, p, start)
		h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	}
}

// refuse answers r with err; issuer is the key's issuer when the verifier
// found it, else "".
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, err *verifier.Error, issuer string, start time.Time) {
	h.logRefused(r, err, issuer, start)
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
		h.errorWriter(w, r, err)
		return
	}
	writeError(w, h.challenge, err)
}

// refusedBodyGrace is how long the rest of a refused request's body may
// take to arrive after the refusal, before the connection is closed.
const refusedBodyGrace = time.Second

// asError returns the *verifier.Error that Verify documents it returns. Any
// other error fails closed as a 503 (SPEC §7), never as an accept or a 500.
func asError(err error) *verifier.Error {
	if e, ok := err.(*verifier.Error); ok {
		return e
	}
	return &verifier.Error{Reason: verifier.ReasonUnavailable, Detail: verifier.DetailUnavailable, Cause: err}
}
