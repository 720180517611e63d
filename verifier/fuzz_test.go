package verifier_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

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
	keys, err := verifier.NewStaticKeys(
		&verifier.Key{Issuer: "user:1:1", Secret: verifier.Secret(secret64), Active: true},
		&verifier.Key{Issuer: "user:2:1", Secret: verifier.Secret(secret64), Active: true,
			User: &verifier.User{ID: 2, ReadDevAgreement: &time.Time{}}},
	)
	if err != nil {
		f.Fatal(err)
	}
	v, err := verifier.New(keys, verifier.WithClock(func() time.Time { return time.Unix(testNow, 0) }), verifier.WithAllowReuse())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			var verr *verifier.Error
			if !errors.As(err, &verr) || !knownReasons[verr.Reason] || verr.Detail == "" || verr.Status() != 401 {
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

// FuzzParseKeys checks that the keys-file loader never panics and never puts
// a secret in its errors.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(`{"keys":[{"key":"user:1:1","secret":"` + secret64 + `"}]}`))
	f.Add([]byte(`{"keys":[{"key":"user:1:1","secret":"s","active":false,"user":{"id":7,"read_dev_agreement":"2024-01-01T00:00:00Z"}}]}`))
	f.Add([]byte(`{"keys":[{"key":"a","secret":"s"},{"key":"a","secret":"s"}]}`))
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
