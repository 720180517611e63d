// Package jwttest builds JWS compact tokens for tests, byte for byte as
// asked: the header and claims are the raw JSON text a test writes (so a test
// can send duplicate members, floats like 1.7e9, odd spacing or invalid
// JSON), encoded as unpadded base64url (RFC 7515 §2) and signed with HMAC
// (RFC 7518 §3.2). It uses the standard library only, so it shares no code
// with the verifier it tests.
package jwttest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
)

// Segment encodes b as one compact-serialization segment: base64url without
// padding (RFC 7515 §2).
func Segment(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(b)
}

// SigningInput returns Segment(header) + "." + Segment(claims), the bytes a
// JWS signature covers (RFC 7515 §5.1).
func SigningInput(headerJSON, claimsJSON string) string {
	return Segment([]byte(headerJSON)) + "." + Segment([]byte(claimsJSON))
}

// MAC returns the HMAC of input under secret with the hash of alg: "HS256",
// "HS384" or "HS512" (RFC 7518 §3.2). It panics on any other alg, which is a
// bug in the calling test.
func MAC(alg, input string, secret []byte) []byte {
	var h func() hash.Hash
	switch alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		panic(fmt.Sprintf("jwttest: unsupported alg %q", alg))
	}
	m := hmac.New(h, secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// Sign returns the compact JWS header.claims.signature of the raw JSON texts
// headerJSON and claimsJSON, signed with HMAC-SHA256 under secret. The texts
// are encoded exactly as given, whatever the header's "alg" says.
func Sign(headerJSON, claimsJSON string, secret []byte) string {
	return SignAlg("HS256", headerJSON, claimsJSON, secret)
}

// SignAlg is Sign with the HMAC hash named by alg ("HS256", "HS384" or
// "HS512"). It panics on any other alg.
func SignAlg(alg, headerJSON, claimsJSON string, secret []byte) string {
	input := SigningInput(headerJSON, claimsJSON)
	return input + "." + Segment(MAC(alg, input, secret))
}
