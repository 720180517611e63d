package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/verifier"
)

// The tests run at a fixed time, so their tokens are fixed too.
const (
	testIssuer = "user:543210:23"
	testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testNow    = 1700000000
	testHeader = `{"alg":"HS256","typ":"JWT"}`
)

var (
	tokA             = jwttest.Sign(testHeader, `{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	tokNoJTI         = jwttest.Sign(testHeader, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	tokExpired       = jwttest.Sign(testHeader, `{"iss":"user:543210:23","jti":"b","iat":1699999900,"exp":1699999950}`, []byte(testSecret))
	tokUnknownIssuer = jwttest.Sign(testHeader, `{"iss":"user:1:1","jti":"c","iat":1700000000,"exp":1700000060}`, []byte(testSecret))
	tokBadSignature  = jwttest.Sign(testHeader, `{"iss":"user:543210:23","jti":"f","iat":1700000000,"exp":1700000060}`, []byte("another-secret"))
)

const defaultChallenge = `JWT realm="Access to addons.mozilla.org external API"`

func testClock() time.Time { return time.Unix(testNow, 0) }

// newVerifier returns a verifier that knows testIssuer, at testNow, with
// its own memory nonce store (on the verifier's clock) unless opts say
// otherwise.
func newVerifier(tb testing.TB, opts ...verifier.Option) *verifier.Verifier {
	tb.Helper()
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: testIssuer,
		Secret: verifier.Secret(testSecret),
		Active: true,
		User:   &verifier.User{ID: 543210, Username: "demo", ReadDevAgreement: &agreed},
	})
	if err != nil {
		tb.Fatal(err)
	}
	opts = append([]verifier.Option{verifier.WithClock(testClock)}, opts...)
	v, err := verifier.New(keys, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// failingStore fails every claim as an unreachable Redis would.
type failingStore struct{}

func (failingStore) Claim(context.Context, string, string, time.Time) (time.Time, error) {
	return time.Time{}, fmt.Errorf("%w: dial tcp 127.0.0.1:6379: connection refused", noncestore.ErrUnavailable)
}

func (failingStore) Ping(context.Context) (time.Time, error) {
	return time.Time{}, noncestore.ErrUnavailable
}

// whoami answers 200 with "issuer user-id nonce" of the principal, or
// "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.PrincipalFrom(r.Context())
	if !ok {
		fmt.Fprint(w, "anonymous")
		return
	}
	fmt.Fprintf(w, "%s %d %s", p.Issuer, p.UserID, p.Nonce)
})

// mounts are the ways a user mounts the middleware: on a plain ServeMux
// and on a chi router, with Use and with With.
var mounts = []struct {
	name  string
	mount func(mw func(http.Handler) http.Handler) http.Handler
}{
	{"net/http", func(mw func(http.Handler) http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/api/", mw(whoami))
		return mux
	}},
	{"chi Use", func(mw func(http.Handler) http.Handler) http.Handler {
		r := chi.NewRouter()
		r.Use(mw)
		r.Get("/api/whoami", whoami)
		return r
	}},
	{"chi With", func(mw func(http.Handler) http.Handler) http.Handler {
		r := chi.NewRouter()
		r.With(mw).Get("/api/whoami", whoami)
		return r
	}},
}

type exchange struct {
	auth       []string // Authorization header values
	wantStatus int
	wantBody   string
}

// do sends GET /api/whoami with the Authorization values of e to h and
// checks status, body and the AMO headers of a refusal.
func do(t *testing.T, h http.Handler, e exchange) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/whoami", nil)
	for _, v := range e.auth {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != e.wantStatus || rec.Body.String() != e.wantBody {
		t.Errorf("Authorization %.30q: got %d %s, want %d %s", e.auth, rec.Code, rec.Body, e.wantStatus, e.wantBody)
	}
	hdr := rec.Result().Header
	switch rec.Code {
	case http.StatusUnauthorized:
		if got := hdr.Get("WWW-Authenticate"); got != defaultChallenge {
			t.Errorf("WWW-Authenticate %q, want %q", got, defaultChallenge)
		}
	case http.StatusServiceUnavailable:
		if got := hdr.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After %q, want 1", got)
		}
	}
	if rec.Code != http.StatusOK && hdr.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q, want application/json", hdr.Get("Content-Type"))
	}
}

func detail(text string) string { return `{"detail":` + mustJSON(text) + `}` }

func mustJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := m.mount(middleware.New(newVerifier(t)))
			// In order: the second use of tokA is a replay.
			for _, e := range []exchange{
				{nil, 401, detail(verifier.DetailNotAuthenticated)},
				{[]string{"Bearer " + tokA}, 401, detail(verifier.DetailNotAuthenticated)},
				{[]string{"JWT"}, 401, detail(verifier.DetailNoCredentials)},
				{[]string{"JWT " + tokA + " x"}, 401, detail(verifier.DetailCredentialsSpaces)},
				{[]string{"JWT " + tokA, "JWT " + tokNoJTI}, 401, detail(verifier.DetailCredentialsSpaces)},
				{[]string{"JWT " + strings.Repeat("a", verifier.MaxTokenBytes)}, 401, detail(verifier.DetailDecoding)},
				{[]string{"JWT }}garbage{{"}, 401, detail(verifier.DetailDecoding)},
				{[]string{"JWT " + tokExpired}, 401, detail(verifier.DetailExpired)},
				{[]string{"JWT " + tokUnknownIssuer}, 401, detail(verifier.DetailIssuerUnknown)},
				{[]string{"JWT " + tokBadSignature}, 401, detail(verifier.DetailDecoding)},
				{[]string{"jwt\t" + tokA + " "}, 200, "user:543210:23 543210 a"},
				{[]string{"JWT " + tokA}, 401, detail(verifier.DetailReplayed)},
				{[]string{"JWT " + tokNoJTI}, 200, "user:543210:23 543210 "},
				{[]string{"JWT " + tokNoJTI}, 200, "user:543210:23 543210 "},
			} {
				do(t, h, e)
			}
		})
	}
}

func TestMiddlewareOptional(t *testing.T) {
	t.Parallel()
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := m.mount(middleware.New(newVerifier(t), middleware.WithOptional()))
			for _, e := range []exchange{
				{nil, 200, "anonymous"},
				{[]string{""}, 200, "anonymous"},
				{[]string{"Bearer " + tokA}, 200, "anonymous"},
				{[]string{"JWTabc"}, 200, "anonymous"},
				// Credentials that fail never degrade to anonymous.
				{[]string{"JWT"}, 401, detail(verifier.DetailNoCredentials)},
				{[]string{"JWT a b"}, 401, detail(verifier.DetailCredentialsSpaces)},
				{[]string{"Bearer a", "Bearer b"}, 401, detail(verifier.DetailCredentialsSpaces)},
				{[]string{"JWT " + tokExpired}, 401, detail(verifier.DetailExpired)},
				{[]string{"JWT " + tokA}, 200, "user:543210:23 543210 a"},
				{[]string{"JWT " + tokA}, 401, detail(verifier.DetailReplayed)},
			} {
				do(t, h, e)
			}
		})
	}
}

func TestMiddlewareStoreFailure(t *testing.T) {
	t.Parallel()
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := m.mount(middleware.New(newVerifier(t, verifier.WithNonceStore(failingStore{}))))
			for _, e := range []exchange{
				{[]string{"JWT " + tokA}, 503, detail(verifier.DetailUnavailable)},
				// Checks that need no store still answer first (SPEC §7).
				{[]string{"JWT " + tokBadSignature}, 401, detail(verifier.DetailDecoding)},
				// A token without jti needs no store (SPEC §5, amo profile).
				{[]string{"JWT " + tokNoJTI}, 200, "user:543210:23 543210 "},
			} {
				do(t, h, e)
			}
		})
	}
}

func TestMiddlewarePrincipal(t *testing.T) {
	t.Parallel()
	var got *verifier.Principal
	h := middleware.New(newVerifier(t))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = middleware.PrincipalFrom(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "JWT "+tokA)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil {
		t.Fatal("no principal in the context")
	}
	want := verifier.Principal{
		Issuer: testIssuer, UserID: 543210, User: got.User, Nonce: "a",
		IssuedAt: time.Unix(testNow, 0).UTC(), ExpiresAt: time.Unix(testNow+60, 0).UTC(),
	}
	if *got != want || got.User == nil || got.User.Username != "demo" {
		t.Errorf("principal %+v, want %+v with user demo", *got, want)
	}
	if p, ok := middleware.PrincipalFrom(context.Background()); ok || p != nil {
		t.Errorf("PrincipalFrom(empty context) = %v, %v; want nil, false", p, ok)
	}
}

func TestWithRealm(t *testing.T) {
	t.Parallel()
	h := middleware.New(newVerifier(t), middleware.WithRealm(`internal "api"`))(whoami)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got, want := rec.Header().Get("WWW-Authenticate"), `JWT realm="internal \"api\""`; rec.Code != 401 || got != want {
		t.Errorf("got %d %q, want 401 %q", rec.Code, got, want)
	}
}

func TestWithErrorWriter(t *testing.T) {
	t.Parallel()
	var reasons []verifier.Reason
	write := func(w http.ResponseWriter, r *http.Request, err *verifier.Error) {
		reasons = append(reasons, err.Reason())
		http.Error(w, string(err.Reason()), err.Status())
	}
	h := middleware.New(newVerifier(t, verifier.WithNonceStore(failingStore{})), middleware.WithErrorWriter(write))(whoami)
	for _, e := range []exchange{
		{nil, 401, "not_authenticated\n"},
		{[]string{"JWT"}, 401, "header_malformed\n"},
		{[]string{"JWT " + tokExpired}, 401, "expired\n"},
		{[]string{"JWT " + tokA}, 503, "unavailable\n"},
		{[]string{"JWT " + tokNoJTI}, 200, "user:543210:23 543210 "},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, v := range e.auth {
			req.Header.Add("Authorization", v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != e.wantStatus || rec.Body.String() != e.wantBody {
			t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, e.wantStatus, e.wantBody)
		}
	}
	want := []verifier.Reason{verifier.ReasonNotAuthenticated, verifier.ReasonHeaderMalformed, verifier.ReasonExpired, verifier.ReasonUnavailable}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Errorf("writer saw %v, want %v", reasons, want)
	}
}

func TestNewPanicsOnInvalidConfig(t *testing.T) {
	t.Parallel()
	v := newVerifier(t)
	tests := []struct {
		name string
		f    func()
	}{
		{"nil verifier", func() { middleware.New(nil) }},
		{"realm with newline", func() { middleware.New(v, middleware.WithRealm("a\r\nX-Evil: 1")) }},
		{"realm with DEL", func() { middleware.New(v, middleware.WithRealm("a\x7f")) }},
		{"nil error writer", func() { middleware.New(v, middleware.WithErrorWriter(nil)) }},
		{"nil logger", func() { middleware.New(v, middleware.WithLogger(nil)) }},
		{"nil observer", func() { middleware.New(v, middleware.WithObserver(nil)) }},
		{"nil next handler", func() { middleware.New(v)(nil) }},
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

func TestWithLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	v := newVerifier(t)
	mux := http.NewServeMux()
	mux.Handle("/api/", middleware.New(v, middleware.WithLogger(logger))(whoami))
	mux.Handle("/open/", middleware.New(v, middleware.WithLogger(logger), middleware.WithOptional())(whoami))
	mux.Handle("/down/", middleware.New(newVerifier(t, verifier.WithNonceStore(failingStore{})), middleware.WithLogger(logger))(whoami))

	requests := []struct {
		path, auth string
		want       map[string]any // attributes expected on the line
	}{
		{"/api/x", "JWT " + tokA, map[string]any{"level": "INFO", "outcome": "accepted", "issuer": testIssuer, "user_id": 543210.0, "jti": "ca978112ca1b"}},
		{"/api/x", "JWT " + tokA, map[string]any{"level": "INFO", "outcome": "refused", "status": 401.0, "reason": "replayed"}},
		{"/api/x", "JWT " + tokNoJTI, map[string]any{"outcome": "accepted", "issuer": testIssuer}},
		{"/api/x", "", map[string]any{"outcome": "refused", "reason": "not_authenticated"}},
		{"/open/x", "", map[string]any{"outcome": "anonymous"}},
		{"/down/x", "JWT " + tokA, map[string]any{"level": "WARN", "outcome": "refused", "status": 503.0, "reason": "unavailable",
			"cause": "noncestore: store unavailable: dial tcp 127.0.0.1:6379: connection refused"}},
	}
	for _, r := range requests {
		req := httptest.NewRequest(http.MethodGet, r.path, nil)
		req.RemoteAddr = "192.0.2.7:4242"
		if r.auth != "" {
			req.Header.Set("Authorization", r.auth)
		}
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}

	out := buf.String()
	for _, secret := range []string{tokA, strings.Split(tokA, ".")[2], strings.Split(tokNoJTI, ".")[2], testSecret, `"jti":"a"`} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(requests) {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), len(requests), out)
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if got["msg"] != "amojwt auth" || got["remote"] != "192.0.2.7:4242" || got["method"] != "GET" || got["path"] != requests[i].path {
			t.Errorf("line %d lacks the request attributes: %s", i, line)
		}
		if _, ok := got["latency"].(float64); !ok {
			t.Errorf("line %d has no latency: %s", i, line)
		}
		for k, want := range requests[i].want {
			if got[k] != want {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], want)
			}
		}
	}
}

// TestWithObserver: the observer sees every decision, refusals of the
// Authorization header and anonymous requests included, with the
// verifier's record of the token; several observers run in order.
func TestWithObserver(t *testing.T) {
	t.Parallel()
	type seen struct {
		outcome  middleware.Outcome
		reason   verifier.Reason // "" without an error
		rule     string
		issuer   string // Decision.Verifier.Issuer
		called   bool   // Decision.Verifier.StoreCalled
		reused   bool   // Decision.Verifier.Reused
		storeErr bool   // Decision.Verifier.StoreErr != nil
		user     int64  // the principal's, 0 without one
	}
	record := func(log *[]seen) func(*http.Request, middleware.Decision) {
		return func(r *http.Request, d middleware.Decision) {
			s := seen{outcome: d.Outcome, issuer: d.Verifier.Issuer, called: d.Verifier.StoreCalled,
				reused: d.Verifier.Reused, storeErr: d.Verifier.StoreErr != nil}
			if d.Err != nil {
				s.reason, s.rule = d.Err.Reason(), d.Err.Rule().String()
			}
			if d.Principal != nil {
				s.user = d.Principal.UserID
			}
			if d.Latency <= 0 || (d.Outcome == middleware.Refused) != (d.Err != nil) || (d.Outcome == middleware.Accepted) != (d.Principal != nil) {
				t.Errorf("inconsistent decision %+v", d)
			}
			*log = append(*log, s)
		}
	}
	tests := []struct {
		name  string
		opts  []verifier.Option
		mw    []middleware.Option
		auths []string // one request each; "" sends no header
		want  []seen
	}{
		{"required", nil, nil, []string{"JWT " + tokA, "JWT " + tokA, "", "JWT", "JWT a b", "JWT " + tokExpired, "JWT " + tokNoJTI}, []seen{
			{middleware.Accepted, "", "", testIssuer, true, false, false, 543210},
			{middleware.Refused, verifier.ReasonReplayed, "§3 row 15", testIssuer, true, false, false, 0},
			{middleware.Refused, verifier.ReasonNotAuthenticated, "§2.1", "", false, false, false, 0},
			{middleware.Refused, verifier.ReasonHeaderMalformed, "§2.3", "", false, false, false, 0},
			{middleware.Refused, verifier.ReasonHeaderMalformed, "§2.4", "", false, false, false, 0},
			{middleware.Refused, verifier.ReasonExpired, "§3 row 9", testIssuer, false, false, false, 0},
			{middleware.Accepted, "", "", testIssuer, false, false, false, 543210},
		}},
		{"optional", nil, []middleware.Option{middleware.WithOptional()}, []string{"", "Bearer x", "JWT"}, []seen{
			{middleware.Anonymous, "", "", "", false, false, false, 0},
			{middleware.Anonymous, "", "", "", false, false, false, 0},
			{middleware.Refused, verifier.ReasonHeaderMalformed, "§2.3", "", false, false, false, 0},
		}},
		{"report", []verifier.Option{verifier.WithReplay(verifier.ReplayReport)}, nil, []string{"JWT " + tokA, "JWT " + tokA}, []seen{
			{middleware.Accepted, "", "", testIssuer, true, false, false, 543210},
			{middleware.Accepted, "", "", testIssuer, true, true, false, 543210},
		}},
		{"store down", []verifier.Option{verifier.WithNonceStore(failingStore{})}, nil, []string{"JWT " + tokA}, []seen{
			{middleware.Refused, verifier.ReasonUnavailable, "§7", testIssuer, true, false, true, 0},
		}},
		{"store down, report", []verifier.Option{verifier.WithNonceStore(failingStore{}), verifier.WithReplay(verifier.ReplayReport)}, nil,
			[]string{"JWT " + tokA}, []seen{
				{middleware.Accepted, "", "", testIssuer, true, false, true, 543210},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var first, second []seen
			opts := append([]middleware.Option{middleware.WithObserver(record(&first)), middleware.WithObserver(record(&second))}, tt.mw...)
			h := middleware.New(newVerifier(t, tt.opts...), opts...)(whoami)
			for _, auth := range tt.auths {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			if fmt.Sprint(first) != fmt.Sprint(tt.want) || fmt.Sprint(second) != fmt.Sprint(tt.want) {
				t.Errorf("observers saw\n%+v\n%+v\nwant\n%+v", first, second, tt.want)
			}
		})
	}
}

// TestLogReused: a reused token that ReplayReport accepts is logged at Warn
// with reused=true and its issuer, never its jti or token.
func TestLogReused(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := newVerifier(t, verifier.WithReplay(verifier.ReplayReport))
	h := middleware.New(v, middleware.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))(whoami)
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Authorization", "JWT "+tokA)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("reused token: %d %s", rec.Code, rec.Body)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, wantReused := range []bool{false, true} {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		wantLevel := map[bool]string{false: "INFO", true: "WARN"}[wantReused]
		if got["outcome"] != "accepted" || got["issuer"] != testIssuer || got["level"] != wantLevel || (got["reused"] == true) != wantReused {
			t.Errorf("line %d: %s", i, lines[i])
		}
	}
	if strings.Contains(buf.String(), tokA) || strings.Contains(buf.String(), `"jti":"a"`) {
		t.Errorf("log holds the token or the jti:\n%s", buf.String())
	}
}
