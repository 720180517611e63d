package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// Headers of a forward-auth refusal, for proxies that build the client's
// answer themselves (nginx auth_request keeps only the status of the
// subrequest): the response serve would send.
const (
	// headerStatus is the status serve would answer with: 401, or 503 for
	// a store outage (which forward-auth sends as a 401, see
	// writeForwardAuthRefusal).
	headerStatus = "X-Amo-Status"
	// headerError is the JSON body, {"detail":"<AMO text>"}.
	headerError = "X-Amo-Error"
)

// newForwardAuthHandler returns serve's /auth endpoint: the middleware
// (logging to logger, counting in m) in front of forwardAuth, refusals
// written by writeForwardAuthRefusal, and with c.trustForwarded the method,
// URI and client of the log line taken from the proxy's headers.
func newForwardAuthHandler(v *verifier.Verifier, c *serveConfig, logger *slog.Logger, m *metrics) http.Handler {
	challenge := middleware.Challenge(c.realm)
	h := middleware.New(v,
		middleware.WithRealm(c.realm),
		middleware.WithLogger(logger),
		middleware.WithObserver(m.observe),
		middleware.WithErrorWriter(func(w http.ResponseWriter, _ *http.Request, err *verifier.Error) {
			writeForwardAuthRefusal(w, challenge, err)
		}),
	)(http.HandlerFunc(forwardAuth))
	if c.trustForwarded {
		return trustForwarded(h)
	}
	return h
}

// forwardAuth answers an authenticated forward-auth request (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth): 200, an empty
// body, and the caller in the identity headers the proxy copies to the
// upstream (setIdentity). Refusals never get here: the middleware answers
// them with writeForwardAuthRefusal.
func forwardAuth(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.PrincipalFrom(r.Context())
	if !ok {
		// Unreachable behind middleware.New without WithOptional.
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	setIdentity(w.Header(), p)
	w.WriteHeader(http.StatusOK)
}

// writeForwardAuthRefusal answers a refused forward-auth request with err:
// the response of middleware.WriteError, except that a store outage, which
// serve answers 503 (SPEC §7), is sent as a 401 (with the 503's body,
// Retry-After: 1 and the WWW-Authenticate challenge of a 401), since a proxy
// turns any status but 2xx, 401 and 403 from its auth endpoint into a 500
// (nginx auth_request does). Every refusal carries X-Amo-Status (the status
// serve would send) and X-Amo-Error (the JSON body) for a proxy that drops
// the body (nginx), so that its configuration can answer as serve would;
// Traefik and Caddy pass the response to the client as it is.
func writeForwardAuthRefusal(w http.ResponseWriter, challenge string, err *verifier.Error) {
	body := middleware.ErrorBody(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("WWW-Authenticate", challenge)
	if err.Status() == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	h.Set(headerStatus, strconv.Itoa(err.Status()))
	h.Set(headerError, string(body))
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(body)
}

// trustForwarded returns a handler that, before next sees the request,
// takes its method, URI and client address from the headers a reverse proxy
// sets: X-Forwarded-Method, X-Forwarded-Uri or X-Original-Uri, the last
// X-Forwarded-For address or X-Real-Ip. Only the log line of the decision
// reads them. Use it only behind a proxy that overwrites these headers.
func trustForwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, originalRequest(r))
	})
}

// originalRequest is r as the client sent it to the proxy, as far as the
// X-Forwarded-* headers tell.
func originalRequest(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	if m := r.Header.Get("X-Forwarded-Method"); m != "" {
		r2.Method = m
	}
	uri := r.Header.Get("X-Forwarded-Uri")
	if uri == "" {
		uri = r.Header.Get("X-Original-Uri")
	}
	if u, err := url.ParseRequestURI(uri); uri != "" && err == nil {
		r2.URL, r2.RequestURI = u, uri
	}
	if ip := forwardedClient(r.Header); ip != "" {
		r2.RemoteAddr = ip
	}
	return r2
}

// forwardedClient is the client address a proxy reports: the last address
// of X-Forwarded-For, which the nearest proxy added (Caddy, Traefik and
// nginx's $proxy_add_x_forwarded_for add it whatever the client sent), else
// X-Real-Ip, which only some proxies set and others pass on from the
// client; "" when the header read is not a valid IP address.
func forwardedClient(h http.Header) string {
	values := h.Values("X-Forwarded-For")
	if len(values) == 0 {
		if ip := net.ParseIP(strings.TrimSpace(h.Get("X-Real-Ip"))); ip != nil {
			return ip.String()
		}
		return ""
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
		return ip.String()
	}
	return ""
}
