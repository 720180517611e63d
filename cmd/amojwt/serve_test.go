package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/verifier"
)

// server is a `amojwt serve` running in-process on loopback.
type server struct {
	url            string
	stdout, stderr *syncBuffer
	stop           func() error // cancels the context and returns run's error
}

// startServer runs `amojwt serve` with args plus --addr 127.0.0.1:0 and
// waits until it listens. The server is stopped at the end of the test if
// the test has not stopped it.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	e := env{stdout: s.stdout, stderr: s.stderr, program: "amojwt", listening: func(addr string) { addrc <- addr }}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), e)
	}()
	var stopped bool
	var runErr error
	s.stop = func() error {
		if !stopped {
			cancel()
			runErr, stopped = <-done, true
		}
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })
	select {
	case addr := <-addrc:
		s.url = "http://" + addr
	case err := <-done:
		stopped, runErr = true, err
		t.Fatalf("serve %v exited: %v\n%s", args, err, s.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("serve %v did not start listening", args)
	}
	return s
}

// get sends method path with Authorization auth (none when empty) and
// returns the response with its body read.
func (s *server) get(t *testing.T, method, path, auth string) (*http.Response, string) {
	t.Helper()
	return send(t, method, s.url+path, auth, nil)
}

// send sends method url with Authorization auth (none when empty) and the
// header fields given, and returns the response with its body read.
func send(t *testing.T, method, url, auth string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// token signs a demo token now with the jti given ("" for none).
func token(t *testing.T, jti string) string {
	t.Helper()
	return tokenAt(t, jti, time.Now())
}

// tokenAt signs a demo token issued at iat with the jti given ("" for none).
func tokenAt(t *testing.T, jti string, iat time.Time) string {
	t.Helper()
	c := signConfig{key: demoIssuer, secret: demoSecret, lifetime: time.Minute, jti: jti, noJTI: jti == ""}
	tok, err := c.sign(iat)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestServeDemo is the README's quick start: serve --demo, the printed curl
// line's request, the same token again, forward-auth, health, and a
// graceful stop.
func TestServeDemo(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo", "--log-format", "json")

	// The banner names the key, the secret and a curl line for this address.
	wantSign := `TOKEN=$(amojwt sign --key user:543210:23 --secret ` + demoSecret + `)`
	wantCurl := `curl -s -w '\n' -H "Authorization: JWT $TOKEN" ` + s.url + "/api/v5/accounts/profile/"
	if out := s.stdout.String(); !strings.Contains(out, "key:    "+demoIssuer) ||
		!strings.Contains(out, wantSign) || strings.Count(out, wantCurl) != 2 {
		t.Errorf("banner lacks the key, %q or twice %q:\n%s", wantSign, wantCurl, out)
	}

	tok := token(t, "demo-1")
	resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+tok)
	var profile struct {
		ID               int64   `json:"id"`
		Username         string  `json:"username"`
		URL              string  `json:"url"`
		ReadDevAgreement *string `json:"read_dev_agreement"`
	}
	if err := json.Unmarshal([]byte(body), &profile); resp.StatusCode != 200 || err != nil ||
		profile.ID != 543210 || profile.Username != "demo" || profile.URL != s.url+"/en-US/firefox/user/543210/" ||
		profile.ReadDevAgreement == nil || *profile.ReadDevAgreement != "2024-01-01T00:00:00Z" {
		t.Errorf("profile: %d %s", resp.StatusCode, body)
	}

	resp, body = s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+tok)
	if want := `{"detail":"JWT jti (nonce) has already been used."}`; resp.StatusCode != 401 || body != want ||
		resp.Header.Get("WWW-Authenticate") != `JWT realm="Access to addons.mozilla.org external API"` {
		t.Errorf("replay: %d %s %v, want 401 %s", resp.StatusCode, body, resp.Header, want)
	}

	resp, body = s.get(t, "GET", "/auth", "JWT "+token(t, "a b/c"))
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Amo-User-Id") != "543210" ||
		resp.Header.Get("X-Amo-Issuer") != demoIssuer || resp.Header.Get("X-Amo-Jti") != "a%20b%2Fc" {
		t.Errorf("forward-auth: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = s.get(t, "GET", "/auth", "JWT "+token(t, ""))
	if jti := resp.Header.Values("X-Amo-Jti"); resp.StatusCode != 200 || len(jti) != 1 || jti[0] != "" || resp.Header.Get("X-Amo-User-Id") != "543210" {
		t.Errorf("forward-auth without jti: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = s.get(t, "POST", "/auth", "")
	if resp.StatusCode != 401 || body != `{"detail":"Authentication credentials were not provided."}` ||
		resp.Header.Get("WWW-Authenticate") == "" || resp.Header.Get("X-Amo-User-Id") != "" {
		t.Errorf("forward-auth anonymous: %d %s %v", resp.StatusCode, body, resp.Header)
	}

	if resp, body = s.get(t, "GET", "/healthz", ""); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
	if resp, body = s.get(t, "GET", "/nope", ""); resp.StatusCode != 404 || body != `{"detail":"Not found."}` {
		t.Errorf("unknown path: %d %q", resp.StatusCode, body)
	}

	if err := s.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("still listening after stop")
	}

	// One JSON log line per authentication decision, none with a secret.
	logs := s.stderr.String()
	var decisions []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry struct{ Msg, Outcome, Reason string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if entry.Msg == "amojwt auth" {
			decisions = append(decisions, entry.Outcome+" "+entry.Reason)
		}
	}
	want := []string{"accepted ", "refused replayed", "accepted ", "accepted ", "refused not_authenticated"}
	if strings.Join(decisions, ",") != strings.Join(want, ",") {
		t.Errorf("decisions logged %q, want %q", decisions, want)
	}
	for _, secret := range []string{demoSecret, strings.Split(tok, ".")[2], "demo-1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

// TestServeMemoryCapacity runs the memory store at --memory-capacity 2: a
// third live nonce is refused with AMO's 503 (SPEC §7), while a replay is
// still a 401 and a token without jti needs no room.
func TestServeMemoryCapacity(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo", "--memory-capacity", "2")
	for _, c := range []struct {
		jti    string
		status int
	}{{"cap-1", 200}, {"cap-2", 200}, {"cap-3", 503}, {"cap-1", 401}, {"", 200}} {
		if resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+token(t, c.jti)); resp.StatusCode != c.status {
			t.Errorf("jti %q: %d %s, want %d", c.jti, resp.StatusCode, body, c.status)
		}
	}
}

func TestServeProfiles(t *testing.T) {
	t.Parallel()
	type step struct {
		jti        string // "" for a token without jti
		again      bool   // send the token of the previous step again
		early      bool   // issued a second before the server started
		wantStatus int
		wantBody   string // substring; "" to skip
	}
	cases := []struct {
		name  string
		args  []string
		steps []step
	}{
		{"strict requires a jti", []string{"--demo", "--profile", "strict"}, []step{
			{jti: "", wantStatus: 401, wantBody: verifier.DetailNonceMissing},
			{jti: "s1", wantStatus: 200},
			{again: true, wantStatus: 401, wantBody: verifier.DetailReplayed},
		}},
		{"--replay allow accepts a token again", []string{"--demo", "--replay", "allow"}, []step{
			{jti: "r1", wantStatus: 200},
			{again: true, wantStatus: 200},
		}},
		{"--replay refuse with --mock-amo", []string{"--demo", "--mock-amo", "--replay", "refuse"}, []step{
			{jti: "r2", wantStatus: 200},
			{again: true, wantStatus: 401, wantBody: `{"detail":"JWT jti (nonce) has already been used."}`},
		}},
		{"single use by default", []string{"--demo"}, []step{
			{jti: "r3", wantStatus: 200},
			{again: true, wantStatus: 401, wantBody: `{"detail":"JWT jti (nonce) has already been used."}`},
		}},
		{"amo accepts a token without jti again", []string{"--demo"}, []step{
			{jti: "", wantStatus: 200},
			{again: true, wantStatus: 200},
		}},
		{"reset guard refuses jti tokens from before the start", []string{"--demo", "--reset-guard"}, []step{
			{jti: "g1", early: true, wantStatus: 401, wantBody: verifier.DetailNonceStoreReset},
			{jti: "", early: true, wantStatus: 200},
		}},
		{"without the reset guard", []string{"--demo"}, []step{
			{jti: "g1", early: true, wantStatus: 200},
		}},
		{"realm", []string{"--demo", "--realm", "test realm"}, []step{
			{jti: "x", wantStatus: 200},
			{again: true, wantStatus: 401, wantBody: verifier.DetailReplayed},
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			early := time.Now().Add(-time.Second)
			s := startServer(t, tt.args...)
			var tok string
			for i, st := range tt.steps {
				switch {
				case st.early:
					tok = tokenAt(t, st.jti, early)
				case !st.again:
					tok = token(t, st.jti)
				}
				resp, body := s.get(t, "GET", "/api/v4/accounts/profile/", "JWT "+tok)
				if resp.StatusCode != st.wantStatus || !strings.Contains(body, st.wantBody) {
					t.Errorf("step %d: %d %s, want %d %q", i, resp.StatusCode, body, st.wantStatus, st.wantBody)
				}
				if resp.StatusCode == 401 && tt.name == "realm" && resp.Header.Get("WWW-Authenticate") != `JWT realm="test realm"` {
					t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// TestServeMockAMOReportsReuse: with --mock-amo a reused token is accepted,
// as AMO accepts it, and reported (SPEC §5): a Warn log line with the
// issuer (never the jti or the token), amojwt_token_reuses_total, and
// X-Amojwt-Token-Reused: true on the answer.
func TestServeMockAMOReportsReuse(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo", "--mock-amo", "--log-format", "json")
	tok := token(t, "reuse-1")
	for i, wantHeader := range []string{"", "true"} {
		resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+tok)
		if resp.StatusCode != 200 || resp.Header.Get(mockamo.TokenReusedHeader) != wantHeader {
			t.Errorf("use %d: %d %s, %s %q; want 200 and %q", i+1, resp.StatusCode, body,
				mockamo.TokenReusedHeader, resp.Header.Get(mockamo.TokenReusedHeader), wantHeader)
		}
	}
	if got := s.scrape(t)["amojwt_token_reuses_total"]; got != 1 {
		t.Errorf("amojwt_token_reuses_total = %v, want 1", got)
	}
	logs := s.stderr.String()
	var reused []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if entry["msg"] == "amojwt auth" && entry["reused"] == true {
			reused = append(reused, entry)
		}
	}
	if len(reused) != 1 || reused[0]["level"] != "WARN" || reused[0]["issuer"] != demoIssuer || reused[0]["outcome"] != "accepted" {
		t.Errorf("reuse log lines %v, want one Warn line naming %s", reused, demoIssuer)
	}
	for _, secret := range []string{"reuse-1", strings.Split(tok, ".")[2]} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

// TestServeForwardAuthRefusesReuse: /auth, like the library, refuses a
// reused token by default.
func TestServeForwardAuthRefusesReuse(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo")
	tok := token(t, "fa-1")
	if resp, body := s.get(t, "GET", "/auth", "JWT "+tok); resp.StatusCode != 200 {
		t.Fatalf("first use: %d %s", resp.StatusCode, body)
	}
	resp, body := s.get(t, "GET", "/auth", "JWT "+tok)
	if want := `{"detail":"JWT jti (nonce) has already been used."}`; resp.StatusCode != 401 || body != want || resp.Header.Get("X-Amo-Error") != want {
		t.Errorf("reuse: %d %s (X-Amo-Error %q), want 401 %s", resp.StatusCode, body, resp.Header.Get("X-Amo-Error"), want)
	}
}

func TestServeKeysFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.json", `{"keys": [{"key": "user:543210:23", "secret": "`+demoSecret+`",
		"user": {"id": 543210, "username": "filed", "read_dev_agreement": "2024-01-01T00:00:00Z"}}]}`)

	s := startServer(t, "--keys", good)
	resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+token(t, "k1"))
	if resp.StatusCode != 200 || !strings.Contains(body, `"username":"filed"`) {
		t.Errorf("profile from keys file: %d %s", resp.StatusCode, body)
	}

	tests := []struct {
		name, content, wantErr string
	}{
		{"unknown field", `{"keys": [{"key": "user:1:1", "secrte": "x"}]}`, `unknown field "secrte"`},
		{"empty secret", `{"keys": [{"key": "user:1:1", "secret": ""}]}`, `key "user:1:1" has an empty secret`},
		{"not JSON", `keys: []`, "keys file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := write(strings.ReplaceAll(tt.name, " ", "_")+".json", tt.content)
			err, _, _ := runCommand(t, "serve", "--keys", path, "--addr", "127.0.0.1:0")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--keys") {
				t.Errorf("error %v, want one about --keys mentioning %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), demoSecret) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestDialAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:8080", "[::1]:8080"},
		{":8080", "127.0.0.1:8080"},
		{"[::1]:8080", "[::1]:8080"},
		{"localhost:8080", "localhost:8080"},
	}
	for _, tt := range tests {
		if got := dialAddr(tt.addr); got != tt.want {
			t.Errorf("dialAddr(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestServeListenError reports an address in use instead of serving.
func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err, _, _ = runCommand(t, "serve", "--demo", "--addr", ln.Addr().String())
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v, want a *net.OpError", err)
	}
}
