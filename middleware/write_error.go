package middleware

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/amojwt/amojwt/verifier"
)

// DefaultRealm is the realm of the WWW-Authenticate challenge that
// addons.mozilla.org sends with every 401 of its external API (SPEC §3).
const DefaultRealm = "Access to addons.mozilla.org external API"

// WriteError answers a request refused with err the way addons.mozilla.org
// does (SPEC §3, §7; docs/AMO.md §2): status err.Status(), header
// Content-Type: application/json, body {"detail":"<err.Detail>"} (compact
// JSON, escaped as DRF's JSONRenderer does). A 401 also carries
// WWW-Authenticate: JWT realm="<realm>" (SPEC §3); a 503 carries
// Retry-After: 1 (SPEC §7). A `"` or `\` in realm is backslash-escaped
// (RFC 9110 §5.6.4). err must not be nil.
//
// It is the error writer New uses unless WithErrorWriter replaces it, and
// the one to use for a refusal decided outside New, such as forward-auth.
func WriteError(w http.ResponseWriter, realm string, err *verifier.Error) {
	writeError(w, challenge(realm), err)
}

// WriteDetail writes status with the JSON body {"detail":"<detail>"} and
// Content-Type: application/json, the shape of every DRF error response
// (docs/AMO.md §2), for errors that are not about authentication (404,
// 405). Control characters, `"`, `\`, U+2028 and U+2029 are escaped; other
// characters are written as UTF-8, and invalid UTF-8 as U+FFFD.
func WriteDetail(w http.ResponseWriter, status int, detail string) {
	body := make([]byte, 0, len(detail)+len(`{"detail":""}`))
	body = append(body, `{"detail":`...)
	body = appendJSONString(body, detail)
	body = append(body, '}')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
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
	WriteDetail(w, status, err.Detail)
}

// challenge returns the WWW-Authenticate value for realm.
func challenge(realm string) string {
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

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way Python's
// json.dumps(ensure_ascii=False) writes it, plus DRF's escaping of U+2028
// and U+2029.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\u2028':
			dst = append(dst, `\u2028`...)
		case r == '\u2029':
			dst = append(dst, `\u2029`...)
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\uFFFD"...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
