package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// verifyAt verifies token at now against the demo key.
func verifyAt(t *testing.T, token string, now time.Time) (*verifier.Principal, error) {
	t.Helper()
	v, err := verifier.New(demoKeys(), verifier.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(context.Background(), token)
}

// segment decodes the i-th base64url segment of token.
func segment(t *testing.T, token string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSign(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name       string
		c          signConfig
		wantClaims string          // exact claims JSON; "" to check wantJTI instead
		wantJTI    *regexp.Regexp  // the jti a random-jti token carries
		wantReason verifier.Reason // "" when the verifier accepts the token at now
	}{
		{
			name:    "defaults: random jti, 60 s",
			c:       signConfig{key: demoIssuer, secret: demoSecret, lifetime: time.Minute},
			wantJTI: regexp.MustCompile(`^\{"iss":"user:543210:23","jti":"[0-9a-f]{32}","iat":1700000000,"exp":1700000060\}$`),
		},
		{
			name:       "given jti",
			c:          signConfig{key: demoIssuer, secret: demoSecret, lifetime: time.Minute, jti: "0.6453"},
			wantClaims: `{"iss":"user:543210:23","jti":"0.6453","iat":1700000000,"exp":1700000060}`,
		},
		{
			name:       "no jti, as web-ext",
			c:          signConfig{key: demoIssuer, secret: demoSecret, lifetime: 5 * time.Minute, noJTI: true},
			wantClaims: `{"iss":"user:543210:23","iat":1700000000,"exp":1700000300}`,
		},
		{
			name:       "lifetime truncated to seconds",
			c:          signConfig{key: demoIssuer, secret: demoSecret, lifetime: 90*time.Second + 999*time.Millisecond, noJTI: true},
			wantClaims: `{"iss":"user:543210:23","iat":1700000000,"exp":1700000090}`,
		},
		{
			name:       "lifetime over AMO's 300 s",
			c:          signConfig{key: demoIssuer, secret: demoSecret, lifetime: 301 * time.Second, noJTI: true},
			wantClaims: `{"iss":"user:543210:23","iat":1700000000,"exp":1700000301}`,
			wantReason: verifier.ReasonLifetimeTooLong,
		},
		{
			name:       "iat in the past makes an expired token",
			c:          signConfig{key: demoIssuer, secret: demoSecret, lifetime: time.Minute, noJTI: true, iatOffset: -10 * time.Minute},
			wantClaims: `{"iss":"user:543210:23","iat":1699999400,"exp":1699999460}`,
			wantReason: verifier.ReasonExpired,
		},
		{
			name:       "iat in the future",
			c:          signConfig{key: demoIssuer, secret: demoSecret, lifetime: time.Minute, noJTI: true, iatOffset: 6 * time.Second},
			wantClaims: `{"iss":"user:543210:23","iat":1700000006,"exp":1700000066}`,
			wantReason: verifier.ReasonIssuedInFuture,
		},
		{
			name:       "another secret",
			c:          signConfig{key: demoIssuer, secret: "not-the-demo-secret", lifetime: time.Minute, noJTI: true},
			wantClaims: `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`,
			wantReason: verifier.ReasonSignature,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token, err := tt.c.sign(now)
			if err != nil {
				t.Fatal(err)
			}
			if got := segment(t, token, 0); got != `{"alg":"HS256","typ":"JWT"}` {
				t.Errorf("header %s", got)
			}
			claims := segment(t, token, 1)
			if (tt.wantJTI != nil && !tt.wantJTI.MatchString(claims)) || (tt.wantJTI == nil && claims != tt.wantClaims) {
				t.Errorf("claims %s, want %s%v", claims, tt.wantClaims, tt.wantJTI)
			}
			p, err := verifyAt(t, token, now)
			var verr *verifier.Error
			switch {
			case tt.wantReason == "" && err != nil:
				t.Errorf("verifier refused the token: %v", err)
			case tt.wantReason == "":
				var c struct{ Jti string }
				if jerr := json.Unmarshal([]byte(claims), &c); jerr != nil || p.Nonce != c.Jti || p.UserID != 543210 {
					t.Errorf("principal %+v, claims %s", p, claims)
				}
			case !errors.As(err, &verr) || verr.Reason() != tt.wantReason:
				t.Errorf("verifier said %v, want %s", err, tt.wantReason)
			}
		})
	}
}

func TestSignRandomJTIsDiffer(t *testing.T) {
	t.Parallel()
	c := signConfig{key: demoIssuer, secret: demoSecret, lifetime: time.Minute}
	a, err := c.sign(time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.sign(time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two tokens signed in the same second have the same jti")
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    signConfig
		want string
	}{
		{"no key", signConfig{secret: "s"}, "--key is required"},
		{"no secret", signConfig{key: "k"}, "--secret is required"},
		{"jti and no-jti", signConfig{key: "k", secret: "s", jti: "x", noJTI: true}, "--jti and --no-jti exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.c.sign(time.Now())
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a usage error with %q", err, tt.want)
			}
		})
	}
}

// TestSignCommand runs `amojwt sign` as a user would, with the secret from
// the environment, and verifies what it prints.
func TestSignCommand(t *testing.T) {
	t.Setenv("AMOJWT_SECRET", demoSecret)
	err, stdout, stderr := runCommand(t, "sign", "--key", demoIssuer, "--jti", "cli")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	token, ok := strings.CutSuffix(stdout, "\n")
	if !ok || strings.ContainsAny(token, " \n") {
		t.Fatalf("stdout %q, want one token and a newline", stdout)
	}
	p, err := verifyAt(t, token, time.Now())
	if err != nil || p.Nonce != "cli" || p.Issuer != demoIssuer {
		t.Errorf("verify: %+v, %v", p, err)
	}
}
