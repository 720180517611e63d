package main

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/amojwt/amojwt/middleware"
)

// forwardAuth answers an authenticated forward-auth request (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth): 200, an empty
// body, and the caller in headers the proxy copies to the upstream:
//
//	X-Amo-User-Id  the user id (decimal)
//	X-Amo-Issuer   the API key (the iss claim)
//	X-Amo-Jti      the jti, when the token has one
//
// Issuer and jti are percent-encoded as URL path segments (url.PathEscape;
// AMO keys and common nonces come through unchanged), so whatever a client
// put in its jti is a valid header value. Refusals never get here: the
// middleware answers them with AMO's 401 or a 503.
//
// The upstream must trust these headers only from the proxy, which must
// overwrite any X-Amo-* header the client sent.
func forwardAuth(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.PrincipalFrom(r.Context())
	if !ok {
		// Unreachable behind middleware.New without WithOptional.
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("X-Amo-User-Id", strconv.FormatInt(p.UserID, 10))
	h.Set("X-Amo-Issuer", url.PathEscape(p.Issuer))
	if p.Nonce != "" {
		h.Set("X-Amo-Jti", url.PathEscape(p.Nonce))
	}
	w.WriteHeader(http.StatusOK)
}
