package middleware

import (
	"net/http"
	"strings"

	"github.com/amojwt/amojwt/internal/drf"
	"github.com/amojwt/amojwt/verifier"
)

// DefaultRealm is the realm of the WWW-Authenticate challenge that
// addons.mozilla.org sends with every 401 of its external API (SPEC §3).
const DefaultRealm = "Access to addons.mozilla.org external API"

// WriteError answers a request refused with err the way addons.mozilla.org
// does (SPEC §3, §7; docs/AMO.md §2): status err.Status(), header
// Content-Type: application/json, body ErrorBody(err). A 401 also carries
// WWW-Authenticate: Challenge(realm) (SPEC §3); a 503 carries Retry-After:
// 1 (SPEC §7). err must not be nil.
//
// It is the error writer New uses unless WithErrorWriter replaces it, and
// the one to use for a refusal decided outside New.
func WriteError(w http.ResponseWriter, realm string, err *verifier.Error) {
	writeError(w, Challenge(realm), err)
}

// ErrorBody is the JSON body of the answer to err, {"detail":"<AMO
// text>"}, compact and escaped as DRF's JSONRenderer does: for an error
// writer that builds its own response (WithErrorWriter).
func ErrorBody(err *verifier.Error) []byte { return drf.DetailBody(err.Detail()) }

// Challenge returns the WWW-Authenticate value of a 401 for realm:
// JWT realm="<realm>", with `"` and `\` in realm backslash-escaped (RFC
// 9110 §5.6.4).
func Challenge(realm string) string {
	if strings.ContainsAny(realm, `"\`) {
		var b strings.Builder
		for i := 0; i < len(realm); i++ {
			if realm[i] == '"' || realm[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(realm[i])
		}
		realm = b.String()
	}
	return `JWT realm="` + realm + `"`
}

// writeError is WriteError with the WWW-Authenticate value already built.
func writeError(w http.ResponseWriter, challenge string, err *verifier.Error) {
	status := err.Status()
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", challenge)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	drf.WriteDetail(w, status, err.Detail())
}
