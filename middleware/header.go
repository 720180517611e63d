package middleware

import (
	"net/http"

	"github.com/amojwt/amojwt/verifier"
)

// TokenFromHeader reads the credentials of "Authorization: JWT <token>" from
// h, the way addons.mozilla.org does (SPEC §2, docs/AMO.md §1.2). It does
// not look at the token itself; verifier.Verify does.
//
// It returns one of three outcomes:
//   - present == true and the token, a substring of the header value;
//   - present == false and a nil error: the request is anonymous, because
//     there is no Authorization header, its value is blank, or its first
//     word is not "JWT" compared case-insensitively ("Bearer x" and "JWTabc"
//     are anonymous; SPEC §2.1-2.2);
//   - a non-nil *verifier.Error to answer with (HTTP 401), by the first rule
//     that applies, in this order: a header value longer than
//     verifier.MaxTokenBytes is verifier.HeaderTooLong (ReasonMalformed
//     "Error decoding signature."), before anything else is looked at
//     (SPEC §6); more than one Authorization header, whatever their
//     schemes, is verifier.HeaderRepeated (ReasonHeaderMalformed "Invalid
//     Authorization header. Credentials string should not contain
//     spaces.", SPEC §2.5); "JWT" alone is verifier.HeaderNoCredentials
//     (ReasonHeaderMalformed "Invalid Authorization header. No credentials
//     provided.", SPEC §2.3); more than two words is verifier.HeaderSpaces
//     (ReasonHeaderMalformed with the "spaces" text, SPEC §2.4).
//
// Words are separated by runs of ASCII whitespace as Python's bytes.split()
// defines it: space, \t, \n, \v, \f and \r; not \xa0 or other bytes. Leading
// and trailing whitespace is ignored. TokenFromHeader does not allocate.
func TokenFromHeader(h http.Header) (token string, present bool, err *verifier.Error) {
	values := h["Authorization"]
	for _, v := range values {
		if len(v) > verifier.MaxTokenBytes {
			return "", false, verifier.HeaderTooLong
		}
	}
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, verifier.HeaderRepeated
	}
	return parseCredentials(values[0])
}

// parseCredentials applies SPEC §2.1-2.4 to one header value.
func parseCredentials(v string) (string, bool, *verifier.Error) {
	start := skipSpace(v, 0)
	end := skipWord(v, start)
	if !isJWTScheme(v[start:end]) {
		return "", false, nil
	}
	start = skipSpace(v, end)
	if start == len(v) {
		return "", false, verifier.HeaderNoCredentials
	}
	end = skipWord(v, start)
	if skipSpace(v, end) != len(v) {
		return "", false, verifier.HeaderSpaces
	}
	return v[start:end], true, nil
}

// isJWTScheme reports whether word is "JWT" in any ASCII case (AMO compares
// parts[0].upper() with "JWT").
func isJWTScheme(word string) bool {
	return len(word) == 3 &&
		word[0]|0x20 == 'j' && word[1]|0x20 == 'w' && word[2]|0x20 == 't'
}

// isSpace reports whether c is ASCII whitespace as Python's bytes.split()
// sees it: space, or one of \t \n \v \f \r (9 to 13).
func isSpace(c byte) bool {
	return c == ' ' || c-'\t' <= '\r'-'\t'
}

// skipSpace returns the index of the first non-space byte of v at or after i.
func skipSpace(v string, i int) int {
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	return i
}

// skipWord returns the index of the first space byte of v at or after i.
// It skips eight bytes at a time while none of them is below '!' (every
// space byte is), then looks byte by byte.
func skipWord(v string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(v); i += 8 {
		x := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		if (x-'!'*ones)&^x&highs != 0 {
			break
		}
	}
	for i < len(v) && !isSpace(v[i]) {
		i++
	}
	return i
}
