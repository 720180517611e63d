package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/amojwt/amojwt/verifier"
)

// The identity headers that forward-auth answers with and proxy mode sends
// upstream. Everything starting with identityPrefix is amojwt's: a client's
// own X-Amo-* headers are always removed, so an upstream can trust them
// when they come through amojwt or a proxy that copies amojwt's.
const (
	identityPrefix = "X-Amo-"
	headerUserID   = "X-Amo-User-Id"
	headerIssuer   = "X-Amo-Issuer"
	headerJTI      = "X-Amo-Jti"
)

// headerSeparators spells a header name's "_" and "." as "-": CGI-style
// servers (WSGI, Rack, PHP) read X_Amo_User_Id, X.Amo.User.Id and
// X-Amo-User-Id as the same HTTP_X_AMO_USER_ID variable.
var headerSeparators = strings.NewReplacer("_", "-", ".", "-")

// stripIdentity removes every X-Amo-* header from h, also spelled with
// underscores or dots (X_Amo_User_Id), which CGI-style servers (WSGI, Rack,
// PHP) read as the same HTTP_X_AMO_USER_ID variable.
func stripIdentity(h http.Header) {
	for name := range h {
		if len(name) < len(identityPrefix) {
			continue
		}
		prefix := headerSeparators.Replace(name[:len(identityPrefix)])
		if strings.EqualFold(prefix, identityPrefix) {
			delete(h, name)
		}
	}
}

// setIdentity sets the identity headers of p in h:
//
//	X-Amo-User-Id  the user id (decimal)
//	X-Amo-Issuer   the API key (the iss claim)
//	X-Amo-Jti      the jti; empty when the token had none
//
// Issuer and jti are percent-encoded as URL path segments (url.PathEscape;
// AMO keys and common nonces come through unchanged), so whatever a client
// put in its jti is a valid header value. X-Amo-Jti is set even when empty
// so that a proxy that copies it overwrites any value a client sent.
func setIdentity(h http.Header, p *verifier.Principal) {
	h.Set(headerUserID, strconv.FormatInt(p.UserID, 10))
	h.Set(headerIssuer, url.PathEscape(p.Issuer))
	h.Set(headerJTI, url.PathEscape(p.Nonce))
}
