package middleware_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// FuzzTokenFromHeader feeds TokenFromHeader zero, one or two arbitrary
// Authorization values (n%3 of first, second). Invariants: no panic; the
// result is what specTokenFromHeader, SPEC §2 and §6 written as plainly as
// possible, says; a token is non-empty, a substring of the header value and
// free of ASCII whitespace; an error is a 401 *verifier.Error with a §2 or
// §6 reason and text; and a value over 8 KiB is always refused, also when
// the value under test is padded past that limit.
func FuzzTokenFromHeader(f *testing.F) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ1c2VyOjE6MSJ9.c2lnbmF0dXJl"
	seeds := []string{
		"", " ", "JWT", "jwt " + tok, "JWT " + tok, "JwT\t" + tok, " \tJWT  " + tok + " \r\n",
		"JWT" + tok, "Bearer " + tok, "JWT " + tok + " x", "JWT\v" + tok, "JWT\f" + tok,
		"JWT\u00a0" + tok, "JWT\x85" + tok, "JWT\r\n " + tok, "\u0130WT " + tok, "ＪＷＴ " + tok,
		"JWT " + strings.Repeat(".", verifier.MaxTokenBytes-4), "JWT " + strings.Repeat(".", verifier.MaxTokenBytes-3),
		"JWT a\x00b", "JWT \xff\xfe",
	}
	for i, s := range seeds {
		f.Add(s, "", uint8(1))
		f.Add(s, seeds[(i+1)%len(seeds)], uint8(2))
	}
	f.Add("", "", uint8(0))
	f.Fuzz(func(t *testing.T, first, second string, n uint8) {
		values := []string{first, second}[:n%3]
		checkTokenFromHeader(t, values)
		if len(values) > 0 && len(first) <= verifier.MaxTokenBytes {
			padded := []string{first + strings.Repeat(" ", verifier.MaxTokenBytes+1-len(first))}
			checkTokenFromHeader(t, append(padded, values[1:]...))
		}
	})
}

// checkTokenFromHeader checks the invariants of FuzzTokenFromHeader for one
// set of Authorization values.
func checkTokenFromHeader(t *testing.T, values []string) {
	t.Helper()
	h := http.Header{}
	if len(values) > 0 {
		h["Authorization"] = values
	}
	token, present, err := middleware.TokenFromHeader(h)
	wantToken, wantPresent, wantReason, wantDetail := specTokenFromHeader(values)
	if err != nil {
		if token != "" || present {
			t.Fatalf("%q: error %v together with token %q, present %v", values, err, token, present)
		}
		if err.Reason() != wantReason || err.Detail() != wantDetail || err.Status() != http.StatusUnauthorized {
			t.Fatalf("%q: got %d %s %q, want 401 %s %q", values, err.Status(), err.Reason(), err.Detail(), wantReason, wantDetail)
		}
		return
	}
	if wantReason != "" {
		t.Fatalf("%q: got (%q, %v), want 401 %s %q", values, token, present, wantReason, wantDetail)
	}
	if token != wantToken || present != wantPresent {
		t.Fatalf("%q: got (%q, %v), want (%q, %v)", values, token, present, wantToken, wantPresent)
	}
	if present && (token == "" || strings.ContainsAny(token, asciiSpace) || !strings.Contains(values[0], token)) {
		t.Fatalf("%q: token %q is empty, holds whitespace or is not from the header", values, token)
	}
}

// asciiSpace is the whitespace SPEC §2.2 splits on: Python's bytes.split().
const asciiSpace = " \t\n\v\f\r"

// specTokenFromHeader is the oracle: SPEC §6 (a value over 8 KiB), §2.5
// (several headers), then §2.1-2.4 on the words of the one value.
func specTokenFromHeader(values []string) (token string, present bool, reason verifier.Reason, detail string) {
	for _, v := range values {
		if len(v) > verifier.MaxTokenBytes {
			return "", false, verifier.ReasonMalformed, verifier.DetailDecoding
		}
	}
	switch len(values) {
	case 0:
		return "", false, "", ""
	case 1:
	default:
		return "", false, verifier.ReasonHeaderMalformed, verifier.DetailCredentialsSpaces
	}
	words := strings.FieldsFunc(values[0], func(r rune) bool { return r < 0x80 && strings.ContainsRune(asciiSpace, r) })
	// Three bytes that fold to "jwt" are three ASCII letters.
	if len(words) == 0 || len(words[0]) != 3 || !strings.EqualFold(words[0], "JWT") {
		return "", false, "", ""
	}
	switch len(words) {
	case 1:
		return "", false, verifier.ReasonHeaderMalformed, verifier.DetailNoCredentials
	case 2:
		return words[1], true, "", ""
	}
	return "", false, verifier.ReasonHeaderMalformed, verifier.DetailCredentialsSpaces
}
