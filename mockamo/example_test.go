package mockamo_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/verifier"
)

// Serve the AMO profile endpoint for one API key. The verifier's clock is
// stopped at the time the example's token was signed, so that it stays
// valid; a real server leaves it at time.Now.
func ExampleNew() {
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: "user:543210:23",
		Secret: verifier.Secret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		Active: true,
		User:   &verifier.User{ID: 543210, Username: "demo", Name: "Demo User", ReadDevAgreement: &agreed},
	})
	if err != nil {
		panic(err)
	}
	v, err := verifier.New(keys, verifier.WithClock(func() time.Time { return time.Unix(1700000000, 0) }))
	if err != nil {
		panic(err)
	}
	amo := mockamo.New(v, mockamo.WithBaseURL("https://addons.example"))

	// {"iss":"user:543210:23","iat":1700000000,"exp":1700000060}
	token := tokDemoNoJTI
	req := httptest.NewRequest(http.MethodGet, "/api/v5/accounts/profile/", nil)
	req.Header.Set("Authorization", "JWT "+token)
	rec := httptest.NewRecorder()
	amo.ServeHTTP(rec, req)

	var p mockamo.Profile
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, p.ID, p.Name, p.Username, p.URL, *p.ReadDevAgreement)

	req = httptest.NewRequest(http.MethodPost, "/api/v5/accounts/profile/", nil)
	req.Header.Set("Authorization", "JWT "+token)
	rec = httptest.NewRecorder()
	amo.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 543210 Demo User demo https://addons.example/en-US/firefox/user/543210/ 2024-01-01T00:00:00Z
	// 405 {"detail":"Method \"POST\" not allowed."}
}
