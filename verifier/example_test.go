package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/amojwt/amojwt/verifier"
)

// exampleToken signs claims with secret as an AMO client does.
func exampleToken(claims, secret string) string {
	hdrs := jws.NewHeaders()
	_ = hdrs.Set(jws.TypeKey, "JWT")
	tok, err := jws.Sign([]byte(claims), jws.WithKey(jwa.HS256, []byte(secret), jws.WithProtectedHeaders(hdrs)))
	if err != nil {
		panic(err)
	}
	return string(tok)
}

// exampleSecret is the secret of the examples' key user:543210:23.
const exampleSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// exampleVerifier returns a verifier for the key user:543210:23 whose clock
// is stopped at the time the examples' tokens were signed, so that they stay
// valid; a real server leaves it at time.Now.
func exampleVerifier(opts ...verifier.Option) *verifier.Verifier {
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: "user:543210:23",
		Secret: verifier.Secret(exampleSecret),
		Active: true,
	})
	if err != nil {
		panic(err)
	}
	now := time.Unix(1700000000, 0)
	opts = append([]verifier.Option{verifier.WithClock(func() time.Time { return now })}, opts...)
	v, err := verifier.New(keys, opts...)
	if err != nil {
		panic(err)
	}
	return v
}

func ExampleVerifier_Verify() {
	v := exampleVerifier()
	token := exampleToken(`{"iss":"user:543210:23","jti":"0.6453","iat":1700000000,"exp":1700000060}`, exampleSecret)

	p, err := v.Verify(context.Background(), token)
	fmt.Println(p.Issuer, p.UserID, p.Nonce, p.ExpiresAt.Format(time.RFC3339), err)

	// The same token again is a replay (SPEC §3 row 15).
	_, err = v.Verify(context.Background(), token)
	fmt.Println(err)
	// Output:
	// user:543210:23 543210 0.6453 2023-11-14T22:14:20Z <nil>
	// amojwt: replayed: JWT jti (nonce) has already been used.
}

// Branch on why a token was refused: errors.Is with the sentinel of each
// reason, errors.As for the *Error with the text and status to answer
// with, and the SPEC rule that failed.
func ExampleVerifier_Verify_errorChecking() {
	v := exampleVerifier()
	for _, claims := range []string{
		`{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`,
		`{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`,
		`{"iss":"user:543210:23","iat":1699999000,"exp":1699999060}`,
		`{"iss":"user:543210:23","iat":1700000000,"exp":[]}`,
		`{"iss":"user:9:9","iat":1700000000,"exp":1700000060}`,
	} {
		_, err := v.Verify(context.Background(), exampleToken(claims, exampleSecret))
		switch {
		case err == nil:
			fmt.Println("accepted")
		case errors.Is(err, verifier.ErrReplayed):
			fmt.Println("replayed: the client must sign a new token")
		case errors.Is(err, verifier.ErrExpired):
			fmt.Println("expired: is the client's clock right?")
		case errors.Is(err, verifier.ErrUnavailable):
			fmt.Println("a store is down: retry")
		default:
			var verr *verifier.Error
			if errors.As(err, &verr) {
				fmt.Printf("refused by SPEC %s (%s): %d %s\n", verr.Rule(), verr.Reason(), verr.Status(), verr.Detail())
			}
		}
	}
	// Output:
	// accepted
	// replayed: the client must sign a new token
	// expired: is the client's clock right?
	// refused by SPEC §3 row 9 (claim_type): 401 Wrong type for one or more keys in payload
	// refused by SPEC §3 row 3 (issuer_unknown): 401 Unknown JWT iss (issuer).
}

// ReplayReport accepts a reused token, as addons.mozilla.org does, and
// marks it: for a mock of AMO that must not break clients that reuse tokens
// but should still show them.
func ExampleReplayReport() {
	v := exampleVerifier(verifier.WithReplay(verifier.ReplayReport))
	token := exampleToken(`{"iss":"user:543210:23","jti":"r","iat":1700000000,"exp":1700000060}`, exampleSecret)
	for range 2 {
		p, d := v.Check(context.Background(), token)
		fmt.Println(d.Accepted(), p.Reused, d.StoreCalled)
	}
	// Output:
	// true false true
	// true true true
}
