package mockamo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/verifier"
)

// The tests run at a fixed time, so their tokens are fixed too.
const (
	testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testNow    = 1700000000
	testHeader = `{"alg":"HS256","typ":"JWT"}`
)

var (
	tokDemo      = jwttest.Sign(testHeader, `{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	tokDemoNoJTI = jwttest.Sign(testHeader, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	tok42        = jwttest.Sign(testHeader, `{"iss":"user:42:7","jti":"d","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	tok7         = jwttest.Sign(testHeader, `{"iss":"user:7:1","jti":"e","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
)

const defaultChallenge = `JWT realm="Access to addons.mozilla.org external API"`

func testClock() time.Time { return time.Unix(testNow, 0) }

// newVerifier returns a verifier at testNow with its own nonce store that
// knows three keys: user:543210:23 (a full account), user:42:7 (a key
// whose account the store does not know) and user:7:1 (an account with
// neither name nor username).
func newVerifier(tb testing.TB) *verifier.Verifier {
	tb.Helper()
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	agreedInParis := time.Date(2024, 3, 1, 12, 30, 45, 0, time.FixedZone("CET", 3600))
	keys, err := verifier.NewStaticKeys(
		&verifier.Key{Issuer: "user:543210:23", Secret: verifier.Secret(testSecret), Active: true,
			User: &verifier.User{ID: 543210, Username: "demo", Name: "Demo <User>", Email: "demo@example.com",
				ReadDevAgreement: &agreed, Permissions: []string{"Reviews:Admin", "Addons:Edit"}}},
		&verifier.Key{Issuer: "user:42:7", Secret: verifier.Secret(testSecret), Active: true},
		&verifier.Key{Issuer: "user:7:1", Secret: verifier.Secret(testSecret), Active: true,
			User: &verifier.User{ID: 7, Email: "seven@example.com", ReadDevAgreement: &agreedInParis}},
	)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := verifier.New(keys, verifier.WithClock(testClock))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// request sends method path with the Authorization value auth (none when
// empty) to h, from 198.51.100.9.
func request(h http.Handler, method, path, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://amo.test"+path, nil)
	req.RemoteAddr = "198.51.100.9:55555"
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestProfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		path  string
		token string
		opts  []mockamo.Option
		want  string
	}{
		{
			name:  "full account",
			path:  "/api/v5/accounts/profile/",
			token: tokDemo,
			opts:  []mockamo.Option{mockamo.WithBaseURL("https://addons.example/")},
			want: `{"id":543210,"name":"Demo <User>","url":"https://addons.example/en-US/firefox/user/543210/","username":"demo",` +
				`"average_addon_rating":null,"has_anonymous_display_name":false,"has_anonymous_username":false,` +
				`"is_addon_developer":false,"is_artist":false,"num_addons_listed":0,"picture_url":null,"deleted":false,` +
				`"display_name":"Demo <User>","email":"demo@example.com","last_login":"2023-11-14T22:13:20Z",` +
				`"last_login_ip":"198.51.100.9","permissions":["Addons:Edit","Reviews:Admin"],` +
				`"read_dev_agreement":"2024-01-01T00:00:00Z","site_status":{"read_only":false,"notice":null}}`,
		},
		{
			name:  "key whose account is unknown, v3, base URL from the request",
			path:  "/api/v3/accounts/profile/",
			token: tok42,
			want: `{"id":42,"name":"Firefox user 42","url":"http://amo.test/en-US/firefox/user/42/",` +
				`"username":"anonymous-b6fc6263215018b9f109a6b6139190d8",` +
				`"average_addon_rating":null,"has_anonymous_display_name":true,"has_anonymous_username":true,` +
				`"is_addon_developer":false,"is_artist":false,"num_addons_listed":0,"picture_url":null,"deleted":false,` +
				`"display_name":null,"email":null,"last_login":"2023-11-14T22:13:20Z",` +
				`"last_login_ip":"198.51.100.9","permissions":[],` +
				`"read_dev_agreement":null,"site_status":{"read_only":false,"notice":null}}`,
		},
		{
			name:  "account without names, v4, agreement time in UTC",
			path:  "/api/v4/accounts/profile/",
			token: tok7,
			opts:  []mockamo.Option{mockamo.WithBaseURL("http://127.0.0.1:8080")},
			want: `{"id":7,"name":"Firefox user 7","url":"http://127.0.0.1:8080/en-US/firefox/user/7/",` +
				`"username":"anonymous-059842cefb7e83670f3bf9b78fdb2abb",` +
				`"average_addon_rating":null,"has_anonymous_display_name":true,"has_anonymous_username":true,` +
				`"is_addon_developer":false,"is_artist":false,"num_addons_listed":0,"picture_url":null,"deleted":false,` +
				`"display_name":null,"email":"seven@example.com","last_login":"2023-11-14T22:13:20Z",` +
				`"last_login_ip":"198.51.100.9","permissions":[],` +
				`"read_dev_agreement":"2024-03-01T11:30:45Z","site_status":{"read_only":false,"notice":null}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]mockamo.Option{mockamo.WithClock(testClock)}, tt.opts...)
			h := mockamo.New(newVerifier(t), opts...)
			rec := request(h, http.MethodGet, tt.path, "JWT "+tt.token)
			if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
				t.Errorf("got %d\n%s\nwant 200\n%s", rec.Code, rec.Body, tt.want)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got := rec.Header().Get("Allow"); got != "GET, HEAD, OPTIONS" {
				t.Errorf("Allow %q", got)
			}
		})
	}
}

func TestRoutesAndMethods(t *testing.T) {
	t.Parallel()
	const profile = "/api/v5/accounts/profile/"
	notFound := `{"detail":"Not found."}`
	tests := []struct {
		name       string
		method     string
		path       string
		auth       string
		wantStatus int
		wantBody   string // "" to skip the body check
		wantAllow  string
	}{
		{"anonymous GET", "GET", profile, "", 401, `{"detail":"Authentication credentials were not provided."}`, ""},
		{"other scheme", "GET", profile, "Bearer " + tokDemoNoJTI, 401, `{"detail":"Authentication credentials were not provided."}`, ""},
		{"bad header", "GET", profile, "JWT", 401, `{"detail":"Invalid Authorization header. No credentials provided."}`, ""},
		{"anonymous POST authenticates first", "POST", profile, "", 401, `{"detail":"Authentication credentials were not provided."}`, ""},
		{"anonymous unknown method authenticates first", "PROPFIND", profile, "", 401, `{"detail":"Authentication credentials were not provided."}`, ""},
		{"anonymous OPTIONS", "OPTIONS", profile, "", 401, `{"detail":"Authentication credentials were not provided."}`, ""},
		{"POST", "POST", profile, "JWT " + tokDemoNoJTI, 405, `{"detail":"Method \"POST\" not allowed."}`, "GET, HEAD, OPTIONS"},
		{"DELETE", "DELETE", profile, "JWT " + tokDemoNoJTI, 405, `{"detail":"Method \"DELETE\" not allowed."}`, "GET, HEAD, OPTIONS"},
		{"unknown method", "PROPFIND", profile, "JWT " + tokDemoNoJTI, 405, `{"detail":"Method \"PROPFIND\" not allowed."}`, "GET, HEAD, OPTIONS"},
		{"lower-case method", "post", profile, "JWT " + tokDemoNoJTI, 405, `{"detail":"Method \"POST\" not allowed."}`, "GET, HEAD, OPTIONS"},
		{"OPTIONS", "OPTIONS", profile, "JWT " + tokDemoNoJTI, 200,
			`{"name":"Profile","description":"","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]}`,
			"GET, HEAD, OPTIONS"},
		{"HEAD", "HEAD", profile, "JWT " + tokDemoNoJTI, 200, "", "GET, HEAD, OPTIONS"},
		{"v2 is not an API version", "GET", "/api/v2/accounts/profile/", "JWT " + tokDemoNoJTI, 404, notFound, ""},
		{"v6 is not an API version", "GET", "/api/v6/accounts/profile/", "", 404, notFound, ""},
		{"no final slash", "GET", "/api/v5/accounts/profile", "JWT " + tokDemoNoJTI, 404, notFound, ""},
		{"unknown path needs no auth", "GET", "/api/v5/addons/", "", 404, notFound, ""},
		{"unknown path ignores a bad token", "POST", "/nope", "JWT x.y.z", 404, notFound, ""},
		{"unknown path, unknown method", "PROPFIND", "/nope", "", 404, notFound, ""},
		{"root", "GET", "/", "", 404, notFound, ""},
	}
	h := mockamo.New(newVerifier(t), mockamo.WithClock(testClock))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := request(h, tt.method, tt.path, tt.auth)
			if rec.Code != tt.wantStatus || (tt.wantBody != "" && rec.Body.String() != tt.wantBody) {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			hdr := rec.Header()
			if got := hdr.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			if got := hdr.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
			wantChallenge := ""
			if tt.wantStatus == http.StatusUnauthorized {
				wantChallenge = defaultChallenge
			}
			if got := hdr.Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, wantChallenge)
			}
		})
	}
}

func TestReplayAndRealm(t *testing.T) {
	t.Parallel()
	h := mockamo.New(newVerifier(t), mockamo.WithAuth(middleware.WithRealm("mock AMO")))
	const path = "/api/v5/accounts/profile/"
	if rec := request(h, "GET", path, "JWT "+tokDemo); rec.Code != http.StatusOK {
		t.Fatalf("first use: %d %s", rec.Code, rec.Body)
	}
	rec := request(h, "GET", path, "JWT "+tokDemo)
	if want := `{"detail":"JWT jti (nonce) has already been used."}`; rec.Code != 401 || rec.Body.String() != want {
		t.Errorf("replay: got %d %s, want 401 %s", rec.Code, rec.Body, want)
	}
	if got, want := rec.Header().Get("WWW-Authenticate"), `JWT realm="mock AMO"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
}

// TestOverHTTP runs the handler in a real server on loopback: HEAD has no
// body, and the body of GET is what a client reads.
// TestReportReuse: under verifier.ReplayReport a reused token is answered
// as the first use was, with TokenReusedHeader.
func TestReportReuse(t *testing.T) {
	t.Parallel()
	keys, err := verifier.NewStaticKeys(&verifier.Key{Issuer: "user:543210:23", Secret: verifier.Secret(testSecret), Active: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(keys, verifier.WithClock(testClock), verifier.WithReplay(verifier.ReplayReport))
	if err != nil {
		t.Fatal(err)
	}
	h := mockamo.New(v)
	for i, want := range []string{"", "true", "true"} {
		rec := request(h, "GET", "/api/v5/accounts/profile/", "JWT "+tokDemo)
		if rec.Code != http.StatusOK || rec.Header().Get(mockamo.TokenReusedHeader) != want {
			t.Errorf("use %d: %d %q, want 200 with %s %q", i+1, rec.Code, rec.Header().Get(mockamo.TokenReusedHeader), mockamo.TokenReusedHeader, want)
		}
	}
	if rec := request(h, "GET", "/api/v5/accounts/profile/", "JWT "+tokDemoNoJTI); rec.Header().Get(mockamo.TokenReusedHeader) != "" {
		t.Errorf("a token without jti is reported reused")
	}
}

func TestOverHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(mockamo.New(newVerifier(t)))
	defer srv.Close()
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		req, err := http.NewRequest(method, srv.URL+"/api/v5/accounts/profile/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "JWT "+tokDemoNoJTI)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantURL := `"url":"` + srv.URL + `/en-US/firefox/user/543210/"`
		switch {
		case resp.StatusCode != http.StatusOK:
			t.Errorf("%s: status %d", method, resp.StatusCode)
		case method == http.MethodHead && len(body) != 0:
			t.Errorf("HEAD: body %q", body)
		case method == http.MethodGet && !strings.Contains(string(body), wantURL):
			t.Errorf("GET: body %s lacks %s", body, wantURL)
		}
	}
}

func TestNewPanicsOnInvalidConfig(t *testing.T) {
	t.Parallel()
	v := newVerifier(t)
	tests := []struct {
		name string
		f    func()
	}{
		{"nil verifier", func() { mockamo.New(nil) }},
		{"nil clock", func() { mockamo.New(v, mockamo.WithClock(nil)) }},
		{"relative base URL", func() { mockamo.New(v, mockamo.WithBaseURL("addons.example")) }},
		{"ftp base URL", func() { mockamo.New(v, mockamo.WithBaseURL("ftp://addons.example")) }},
		{"base URL with query", func() { mockamo.New(v, mockamo.WithBaseURL("https://addons.example/?a=1")) }},
		{"base URL with user", func() { mockamo.New(v, mockamo.WithBaseURL("https://u:p@addons.example")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}
