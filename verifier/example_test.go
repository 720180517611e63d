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

func ExampleVerifier_Verify() {
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: "user:543210:23",
		Secret: verifier.Secret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		Active: true,
	})
	if err != nil {
		panic(err)
	}
	now := time.Unix(1700000000, 0)
	v, err := verifier.New(keys, verifier.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	token := exampleToken(`{"iss":"user:543210:23","jti":"0.6453","iat":1700000000,"exp":1700000060}`,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

	p, err := v.Verify(context.Background(), token)
	fmt.Println(p.Issuer, p.UserID, p.Nonce, p.ExpiresAt.Format(time.RFC3339), err)

	// The same token again is a replay (SPEC §3 row 15).
	_, err = v.Verify(context.Background(), token)
	var verr *verifier.Error
	if errors.As(err, &verr) {
		fmt.Println(verr.Status(), verr.Reason, verr.Detail)
	}
	fmt.Println(errors.Is(err, verifier.ErrReplayed))
	// Output:
	// user:543210:23 543210 0.6453 2023-11-14T22:14:20Z <nil>
	// 401 replayed JWT jti (nonce) has already been used.
	// true
}
