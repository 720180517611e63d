package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// signConfig is the configuration of `amojwt sign`.
type signConfig struct {
	key, secret string
	lifetime    time.Duration
	jti         string
	noJTI       bool
	iatOffset   time.Duration
}

// newSignCommand returns the sign command, which calls exec with its
// configuration once the flags are parsed.
func newSignCommand(exec func(context.Context, *signConfig) error) *ffcli.Command {
	var c signConfig
	fs := newFlagSet("sign")
	fs.StringVar(&c.key, "key", "", "API key, the iss claim (AMO's JWT issuer, e.g. user:543210:23); required")
	fs.StringVar(&c.secret, "secret", "", "API secret (AMO's JWT secret), used as the HMAC key as written; required. Prefer $AMOJWT_SECRET to keep it out of ps")
	fs.DurationVar(&c.lifetime, "lifetime", 60*time.Second, "exp - iat, truncated to whole seconds; AMO refuses more than 5m")
	fs.StringVar(&c.jti, "jti", "", "jti claim (nonce); default: 128 random bits in hex")
	fs.BoolVar(&c.noJTI, "no-jti", false, "send no jti, as web-ext sign and sign-addon do (reusable until exp in the amo profile)")
	fs.DurationVar(&c.iatOffset, "iat-offset", 0, "added to the current time to make iat, e.g. -10m or 30s to test clock-skew answers")
	return &ffcli.Command{
		Name:       "sign",
		ShortUsage: "amojwt sign --key K --secret S [--lifetime 60s] [--jti X | --no-jti] [--iat-offset D]",
		ShortHelp:  "print an AMO API token (HS256 JWT) signed with an API key's secret",
		LongHelp: "Prints one token and a newline, as the AMO docs' clients make it: header\n" +
			`{"alg":"HS256","typ":"JWT"}, claims iss, jti, iat and exp (seconds). Use it as` + "\n" +
			`  curl -H "Authorization: JWT $(amojwt sign --key K --secret S)" URL`,
		FlagSet:   fs,
		Options:   parseOptions,
		UsageFunc: usage,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("sign", args); err != nil {
				return err
			}
			return exec(ctx, &c)
		},
	}
}

// print writes the token c describes, issued at now + c.iatOffset, and a
// newline to w.
func (c *signConfig) print(w io.Writer, now time.Time) error {
	token, err := c.sign(now)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, token)
	return err
}

// signClaims are the claims `amojwt sign` sends, in this order.
type signClaims struct {
	Iss string `json:"iss"`
	Jti string `json:"jti,omitempty"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// sign returns the token c describes, issued at now + c.iatOffset.
func (c *signConfig) sign(now time.Time) (string, error) {
	switch {
	case c.key == "":
		return "", usageError{"sign: --key is required" + forExample("sign")}
	case c.secret == "":
		return "", usageError{"sign: --secret is required" + forExample("sign")}
	case c.noJTI && c.jti != "":
		return "", usageError{"sign: --jti and --no-jti exclude each other"}
	}
	claims := signClaims{Iss: c.key, Jti: c.jti}
	if claims.Jti == "" && !c.noJTI {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("sign: random jti: %w", err)
		}
		claims.Jti = hex.EncodeToString(b[:])
	}
	claims.Iat = now.Add(c.iatOffset).Unix()
	claims.Exp = claims.Iat + int64(c.lifetime/time.Second)
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	headers := jws.NewHeaders()
	if err := headers.Set(jws.TypeKey, "JWT"); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	// The secret's bytes as written are the HMAC key (SPEC §1).
	token, err := jws.Sign(payload, jws.WithKey(jwa.HS256, []byte(c.secret), jws.WithProtectedHeaders(headers)))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return string(token), nil
}
