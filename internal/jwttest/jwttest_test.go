package jwttest_test

import (
	"fmt"
	"testing"

	"github.com/amojwt/amojwt/internal/jwttest"
)

// RFC 7515 Appendix A.1: the HS256 example, whose header and claims contain
// CR LF and spaces that must survive byte for byte.
const (
	rfcHeader = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"
	rfcClaims = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
	rfcToken  = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" +
		".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
		".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// rfcKey is the JWK "k" of RFC 7515 Appendix A.1, base64url-decoded.
var rfcKey = []byte{3, 35, 53, 75, 43, 15, 165, 188, 131, 126, 6, 101, 119, 123, 166, 143, 90, 179, 40,
	230, 240, 84, 201, 40, 169, 15, 132, 178, 210, 80, 46, 191, 211, 251, 90, 146, 210, 6, 71, 239, 150,
	138, 180, 195, 119, 98, 61, 34, 61, 46, 33, 114, 5, 46, 79, 8, 192, 205, 154, 245, 103, 208, 128, 163}

func TestSign(t *testing.T) {
	t.Parallel()
	if got := jwttest.Sign(rfcHeader, rfcClaims, rfcKey); got != rfcToken {
		t.Errorf("Sign(RFC 7515 A.1) =\n%s\nwant\n%s", got, rfcToken)
	}
}

func TestSignAlg(t *testing.T) {
	t.Parallel()
	// MAC against RFC 4231 test case 2 ("Jefe"), then the token against
	// its definition: signing input, a dot, the MAC of the signing input.
	tests := []struct {
		name, alg, want string
	}{
		{"HS256", "HS256", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"HS384", "HS384", "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
		{"HS512", "HS512", "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fmt.Sprintf("%x", jwttest.MAC(tt.alg, "what do ya want for nothing?", []byte("Jefe"))); got != tt.want {
				t.Errorf("MAC(%s) = %s, want %s", tt.alg, got, tt.want)
			}
			tok := jwttest.SignAlg(tt.alg, `{"alg":"`+tt.alg+`"}`, `{}`, []byte("k"))
			want := jwttest.SigningInput(`{"alg":"`+tt.alg+`"}`, `{}`) + "." +
				jwttest.Segment(jwttest.MAC(tt.alg, jwttest.SigningInput(`{"alg":"`+tt.alg+`"}`, `{}`), []byte("k")))
			if tok != want {
				t.Errorf("SignAlg(%s) = %s, want %s", tt.alg, tok, want)
			}
		})
	}
}

func TestSegment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"no padding", []byte{0xfb, 0xff}, "-_8"},
		{"raw JSON kept", []byte(`{"a":1, "a":2}`), "eyJhIjoxLCAiYSI6Mn0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := jwttest.Segment(tt.in); got != tt.want {
				t.Errorf("Segment(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSignAlgUnknownPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("SignAlg(\"none\") did not panic")
		}
	}()
	jwttest.SignAlg("none", `{}`, `{}`, nil)
}

func ExampleSign() {
	fmt.Println(jwttest.Sign(`{"alg":"HS256"}`, `{"iss":"user:1:1","iat":1.7e9}`, []byte("secret")))
	// Output:
	// eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ1c2VyOjE6MSIsImlhdCI6MS43ZTl9.toqfySYzMSpGrqBXorfkeyXwHqY8A3eH1zdNyCU-kRo
}
