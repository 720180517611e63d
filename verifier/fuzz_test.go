package verifier_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/verifier"
)

// knownReasons are the reasons Verify may answer with (SPEC §3, §5, §7).
var knownReasons = map[verifier.Reason]bool{
	verifier.ReasonMalformed: true, verifier.ReasonIssuerMissing: true, verifier.ReasonIssuerUnknown: true,
	verifier.ReasonAlgorithm: true, verifier.ReasonSignature: true, verifier.ReasonClaimMissing: true,
	verifier.ReasonClaimType: true, verifier.ReasonIssuedInFuture: true, verifier.ReasonExpired: true,
	verifier.ReasonLifetimeTooLong: true, verifier.ReasonRefreshable: true, verifier.ReasonNotYetValid: true,
	verifier.ReasonNonceMissing: true, verifier.ReasonNonceInvalid: true, verifier.ReasonUserDisabled: true,
	verifier.ReasonAgreementMissing: true, verifier.ReasonReplayed: true, verifier.ReasonNonceStoreReset: true,
}

// FuzzVerify feeds arbitrary tokens to Verify with a fixed clock and key.
// Invariants: no panic; the answer is a Principal or an *Error with a SPEC
// reason; nothing is accepted unless it is HMAC-SHA256-valid for the key.
func FuzzVerify(f *testing.F) {
	claims := []string{
		`{"iss":"user:1:1","jti":"a","iat":1700000000,"exp":1700000060}`,
		`{"iss":"user:1:1","iat":1700000000,"exp":1700000300}`,
		`{"iss":"user:1:1","iat":1700000000.5,"exp":1.7000003e9,"nbf":1699999999}`,
		`{"iss":"user:1:1","iat":"1700000000","exp":"1700000060"}`,
		`{"iss":"user:1:1","iat":[1],"exp":{},"orig_iat":1}`,
		`{"iss":"user:1:1","jti":"\u00e9\ud800","iat":1700000000,"exp":1700000060,"aud":[{"x":[null,true]}]}`,
		`{"iss":"user:2:1","jti":"a","iat":1700000000,"exp":1700000060}`,
	}
	for _, c := range claims {
		f.Add(exampleToken(c, secret64))
		f.Add(exampleToken(c, "wrong"))
	}
	for _, tok := range []string{"", ".", "..", "a.b.c", "}}garbage{{", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat(".", 100)} {
		f.Add(tok)
	}
	// Mutations of a valid token, for the fuzzer to start from near the
	// paths that decode everything and reach the HMAC.
	valid := exampleToken(claims[0], secret64)
	dot := strings.LastIndexByte(valid, '.')
	for _, tok := range []string{
		valid + ".", valid + "=", "." + valid, valid[:len(valid)-1], valid[:dot+1],
		valid[:dot] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(valid[dot+1:]),
		valid[:dot] + "." + valid[dot+1:len(valid)-1] + "B",
		strings.Replace(valid, ".", "\n.", 1), strings.Replace(valid, ".", "..", 1),
		jwttest.SignAlg("HS512", `{"alg":"HS512"}`, claims[0], []byte(secret64)),
		jwttest.Sign(`{"alg":"HS256","crit":["exp"]}`, claims[0], []byte(secret64)),
	} {
		f.Add(tok)
	}
	v := newFuzzVerifier(f)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			var verr *verifier.Error
			if !errors.As(err, &verr) || !knownReasons[verr.Reason()] || verr.Detail() == "" || verr.Status() != 401 {
				t.Fatalf("Verify(%q): error %#v is not a SPEC *Error", token, err)
			}
			if p != nil {
				t.Fatalf("Verify(%q): both a principal and an error", token)
			}
			return
		}
		if p == nil || (p.Issuer != "user:1:1" && p.Issuer != "user:2:1") {
			t.Fatalf("Verify(%q): accepted with principal %+v", token, p)
		}
		parts := strings.Split(token, ".")
		sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
		if err != nil {
			// Non-canonical trailing bits are accepted (SPEC §5); compare
			// what they decode to.
			sig, err = base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatalf("Verify(%q): accepted an undecodable signature", token)
			}
		}
		mac := hmac.New(sha256.New, []byte(secret64))
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if !bytes.Equal(mac.Sum(nil), sig) {
			t.Fatalf("Verify(%q): accepted without a valid HMAC", token)
		}
	})
}

// FuzzVerifySigned signs arbitrary header and claims texts correctly with
// the key of user:1:1 (fixed clock, replay check off so that runs do not
// depend on each other), so the fuzzer mutates valid tokens past the HMAC
// into the claim checks. Invariants: no panic; a refusal is an *Error with a
// SPEC reason, and "malformed" whenever encoding/json finds either text
// invalid; an acceptance is checked against SPEC §3 with encoding/json as an
// independent decoder (acceptedBySpec).
func FuzzVerifySigned(f *testing.F) {
	headers := []string{
		`{"alg":"HS256","typ":"JWT"}`, `{"alg":"HS256"}`, `{"typ":"JWT","alg":"HS256","kid":"x"}`,
		`{"alg":"HS512"}`, `{"alg":"none"}`, `{"alg":"HS256","crit":["b64"],"b64":false}`,
		`{"alg":"HS256","alg":"HS256"}`, `{"\u0061lg":"HS256"}`, `[]`, `{"alg":"HS256"} x`,
	}
	claims := []string{
		`{"iss":"user:1:1","jti":"a","iat":1700000000,"exp":1700000060}`,
		`{"iss":"user:1:1","iat":1700000000,"exp":1700000300}`,
		`{"iss":"user:1:1","iat":1700000005,"exp":1699999996,"nbf":1700000005.9}`,
		`{"iss":"user:1:1","iat":1.7e9,"exp":1700000000.5e0,"jti":"\u00e9\ud83d\ude00"}`,
		`{"iss":"user:1:1","iat":"1700000000","exp":"1700000060"}`,
		`{"iss":"user:1:1","iat":[1],"exp":{},"orig_iat":1}`,
		`{"iss":"user:1:1","iat":9007199254740993,"exp":1e400}`,
		`{"iss":"user:1:1","jti":"a","jti":"b","iat":1700000000,"exp":1700000060}`,
		`{"iss":"user:2:1","jti":"a","iat":1700000000,"exp":1700000060,"aud":[{"x":[null,true,-0.5e-3]}]}`,
		`{"iss":"user:1:1","iat":1700000000,"exp":1700000060,"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	}
	for i, h := range headers {
		for _, c := range claims[i%3 : i%3+8] {
			f.Add(h, c)
		}
	}
	v := newFuzzVerifier(f)
	f.Fuzz(func(t *testing.T, header, claims string) {
		token := jwttest.Sign(header, claims, []byte(secret64))
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			var verr *verifier.Error
			if !errors.As(err, &verr) || !knownReasons[verr.Reason()] || verr.Status() != 401 || p != nil {
				t.Fatalf("header %q claims %q: got (%v, %#v), want a SPEC *Error", header, claims, p, err)
			}
			if (!json.Valid([]byte(header)) || !json.Valid([]byte(claims))) && verr.Reason() != verifier.ReasonMalformed {
				t.Fatalf("header %q claims %q: invalid JSON answered %s, want malformed", header, claims, verr.Reason())
			}
			return
		}
		if surrogateEscape.MatchString(header + claims) {
			// encoding/json turns a lone surrogate into U+FFFD, where the
			// verifier keeps it, as Python does (as WTF-8 bytes): two such
			// names or jtis that differ are different. The oracle cannot
			// judge these texts.
			return
		}
		if why := acceptedBySpec(header, claims, p); why != "" {
			t.Fatalf("header %q claims %q: accepted, but %s", header, claims, why)
		}
	})
}

// surrogateEscape matches a \u escape of a UTF-16 surrogate.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// acceptedBySpec returns "" if SPEC §3 accepts a correctly signed token of
// these texts with principal p at testNow with the default leeway and
// lifetime, or else what it violates. It decodes with encoding/json, not
// with the verifier's reader.
func acceptedBySpec(header, claims string, p *verifier.Principal) string {
	h, ok := topLevel(header)
	if !ok {
		return "the header is not one JSON object with at most 16 distinct member names"
	}
	if string(h["alg"]) != `"HS256"` {
		return "alg is not exactly \"HS256\""
	}
	if _, crit := h["crit"]; crit {
		return "the header has crit"
	}
	if _, b64 := h["b64"]; b64 {
		return "the header has b64"
	}
	c, ok := topLevel(claims)
	if !ok {
		return "the claims are not one JSON object with at most 16 distinct member names"
	}
	var iss, jti string
	if json.Unmarshal(c["iss"], &iss) != nil || iss != p.Issuer || (iss != "user:1:1" && iss != "user:2:1") {
		return "iss is not the principal's known issuer"
	}
	if raw, ok := c["jti"]; ok {
		if json.Unmarshal(raw, &jti) != nil || jti == "" || len(jti) > verifier.MaxNonceBytes {
			return "jti is not a string of 1 to 256 bytes"
		}
	}
	if jti != p.Nonce {
		return fmt.Sprintf("the principal's nonce is %q, jti is %q", p.Nonce, jti)
	}
	if _, ok := c["orig_iat"]; ok {
		return "orig_iat is present"
	}
	const now, leeway, lifetime = testNow, 5, 300
	iat, ok := numericDate(c["iat"])
	if !ok || iat > now+leeway {
		return "iat is not a NumericDate at most now + leeway"
	}
	exp, ok := numericDate(c["exp"])
	if !ok || math.Trunc(exp) <= now-leeway || exp-iat > lifetime {
		return "exp is not a NumericDate after now - leeway and within the lifetime"
	}
	if raw, ok := c["nbf"]; ok {
		if nbf, ok := numericDate(raw); !ok || math.Trunc(nbf) > now+leeway {
			return "nbf is not a NumericDate at most now + leeway"
		}
	}
	if p.IssuedAt.Unix() != int64(math.Floor(iat)) || p.ExpiresAt.Unix() != int64(math.Floor(exp)) {
		return "the principal's times are not iat and exp"
	}
	return ""
}

// topLevel decodes a JSON object's members, failing on anything else, on
// a repeated name (after unescaping) or on more than verifier.MaxMembers
// members (SPEC §6).
func topLevel(text string) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		name, isName := t.(string)
		if err != nil || !isName {
			return nil, false
		}
		var v json.RawMessage
		if _, dup := m[name]; dup || dec.Decode(&v) != nil {
			return nil, false
		}
		m[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF || len(m) > verifier.MaxMembers {
		return nil, false
	}
	return m, true
}

// numericDate is a JSON number in 0 .. 2^53 (SPEC §4).
func numericDate(raw json.RawMessage) (float64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil || !json.Valid(raw) || raw[0] == '"' {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil && f >= 0 && f <= 1<<53
}

// newFuzzVerifier is a verifier over user:1:1 (no user record) and user:2:1
// (a user who read the agreement), at testNow, with replays allowed.
func newFuzzVerifier(f *testing.F) *verifier.Verifier {
	keys, err := verifier.NewStaticKeys(
		&verifier.Key{Issuer: "user:1:1", Secret: verifier.Secret(secret64), Active: true},
		&verifier.Key{Issuer: "user:2:1", Secret: verifier.Secret(secret64), Active: true,
			User: &verifier.User{ID: 2, ReadDevAgreement: &time.Time{}}},
	)
	if err != nil {
		f.Fatal(err)
	}
	v, err := verifier.New(keys, verifier.WithClock(func() time.Time { return time.Unix(testNow, 0) }), verifier.WithReplay(verifier.ReplayAllow))
	if err != nil {
		f.Fatal(err)
	}
	return v
}

// FuzzParseKeys checks that the keys-file loader never panics and never puts
// a secret in its errors.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(`{"keys":[{"key":"user:1:1","secret":"` + secret64 + `"}]}`))
	f.Add([]byte(`{"keys":[{"key":"user:1:1","secret":"s","active":false,"user":{"id":7,"read_dev_agreement":"2024-01-01T00:00:00Z"}}]}`))
	f.Add([]byte(`{"keys":[{"key":"user:1:1","secret":"s"},{"key":"user:1:1","secret":"s"}]}`))
	f.Add([]byte(`{"keys":[{"key":"no-user-id","secret":"` + secret64 + `"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := verifier.ParseKeys(data)
		if err != nil {
			if keys != nil {
				t.Fatal("both keys and an error")
			}
			if strings.Contains(err.Error(), secret64) {
				t.Fatalf("error leaks a secret: %v", err)
			}
			return
		}
		if keys == nil {
			t.Fatal("nil keys without an error")
		}
	})
}
