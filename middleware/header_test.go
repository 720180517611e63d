package middleware_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

func TestTokenFromHeader(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", verifier.MaxTokenBytes)
	tests := []struct {
		name        string
		values      []string // Authorization header values; nil: no header
		wantToken   string
		wantPresent bool
		wantReason  verifier.Reason // "" when no error
		wantDetail  string
		wantRule    string
	}{
		// SPEC §2.1: anonymous.
		{name: "missing", values: nil},
		{name: "empty value", values: []string{""}},
		{name: "blank value", values: []string{" \t "}},
		{name: "bearer scheme", values: []string{"Bearer x"}},
		{name: "basic scheme", values: []string{"Basic dXNlcjpwYXNz"}},
		{name: "other scheme with spaces", values: []string{"Bearer a b c"}},
		{name: "other scheme alone", values: []string{"Session"}},
		// SPEC §2.2: no separator is not the JWT scheme.
		{name: "JWTabc", values: []string{"JWTabc"}},
		{name: "nbsp is not a separator after the scheme", values: []string{"JWT\xa0tok"}},
		{name: "x1c is not a separator after the scheme", values: []string{"JWT\x1ctok"}},
		// SPEC §2.2: runs of ASCII whitespace.
		{name: "plain", values: []string{"JWT tok"}, wantToken: "tok", wantPresent: true},
		{name: "lower case scheme", values: []string{"jwt tok"}, wantToken: "tok", wantPresent: true},
		{name: "mixed case scheme", values: []string{"jWt tok"}, wantToken: "tok", wantPresent: true},
		{name: "tabs and spaces around", values: []string{"jwt\t  TOKEN \t"}, wantToken: "TOKEN", wantPresent: true},
		{name: "AMO example with spaces", values: []string{"  jwt   TOKEN  "}, wantToken: "TOKEN", wantPresent: true},
		{name: "every ASCII space byte", values: []string{"\r\n\v\fJWT\v\f\tTOKEN\r\n"}, wantToken: "TOKEN", wantPresent: true},
		{name: "nbsp inside the token", values: []string{"JWT a\xa0b"}, wantToken: "a\xa0b", wantPresent: true},
		{name: "x1c inside the token", values: []string{"JWT a\x1cb"}, wantToken: "a\x1cb", wantPresent: true},
		// SPEC §2.3.
		{name: "JWT alone", values: []string{"JWT"}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailNoCredentials, wantRule: "§2.3"},
		{name: "JWT and spaces", values: []string{" jwt \t "}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailNoCredentials, wantRule: "§2.3"},
		// SPEC §2.4.
		{name: "three words", values: []string{"JWT a b"}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailCredentialsSpaces, wantRule: "§2.4"},
		{name: "non-ASCII name", values: []string{"JWT Ivan Krstić"}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailCredentialsSpaces, wantRule: "§2.4"},
		{name: "three words tab separated", values: []string{"JWT\ta\tb\t"}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailCredentialsSpaces, wantRule: "§2.4"},
		// SPEC §2.5.
		{name: "two JWT headers", values: []string{"JWT a", "JWT b"}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailCredentialsSpaces, wantRule: "§2.5"},
		{name: "two headers of other schemes", values: []string{"Bearer a", "Basic b"}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailCredentialsSpaces, wantRule: "§2.5"},
		{name: "two empty headers", values: []string{"", ""}, wantReason: verifier.ReasonHeaderMalformed, wantDetail: verifier.DetailCredentialsSpaces, wantRule: "§2.5"},
		// SPEC §6: size, before anything else.
		{name: "value of exactly MaxTokenBytes", values: []string{"JWT " + long[4:]}, wantToken: long[4:], wantPresent: true},
		{name: "value over MaxTokenBytes", values: []string{"JWT " + long}, wantReason: verifier.ReasonMalformed, wantDetail: verifier.DetailDecoding, wantRule: "§6"},
		{name: "other scheme over MaxTokenBytes", values: []string{"Bearer " + long}, wantReason: verifier.ReasonMalformed, wantDetail: verifier.DetailDecoding, wantRule: "§6"},
		{name: "spaces over MaxTokenBytes", values: []string{"JWT a " + long}, wantReason: verifier.ReasonMalformed, wantDetail: verifier.DetailDecoding, wantRule: "§6"},
		{name: "second header over MaxTokenBytes", values: []string{"JWT a", "JWT " + long}, wantReason: verifier.ReasonMalformed, wantDetail: verifier.DetailDecoding, wantRule: "§6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			token, present, err := middleware.TokenFromHeader(h)
			if token != tt.wantToken || present != tt.wantPresent {
				t.Errorf("got token %.40q present %v, want %.40q %v", token, present, tt.wantToken, tt.wantPresent)
			}
			switch {
			case tt.wantReason == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantReason != "" && err == nil:
				t.Errorf("got no error, want %s", tt.wantReason)
			case err != nil && (err.Reason() != tt.wantReason || err.Detail() != tt.wantDetail || err.Status() != http.StatusUnauthorized):
				t.Errorf("got %v (status %d), want %s %q 401", err, err.Status(), tt.wantReason, tt.wantDetail)
			case err != nil && err.Rule().String() != tt.wantRule:
				t.Errorf("got rule %v, want %s", err.Rule(), tt.wantRule)
			}
		})
	}
}

func TestTokenFromHeaderDoesNotAllocate(t *testing.T) {
	h := http.Header{"Authorization": {"  jwt\t" + tokA + " "}}
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok, _ := middleware.TokenFromHeader(h); !ok {
			t.Fatal("token not found")
		}
	})
	if allocs != 0 {
		t.Errorf("TokenFromHeader allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkTokenFromHeader(b *testing.B) {
	h := http.Header{"Authorization": {"JWT " + tokA}}
	for b.Loop() {
		middleware.TokenFromHeader(h)
	}
}
