//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/internal/testtool"
	"github.com/amojwt/amojwt/verifier"
)

// startCaddy runs Caddy in the foreground with the README's site block
// once per site, its files in a temporary directory, until the test ends.
func startCaddy(t *testing.T, sites ...*proxySite) {
	t.Helper()
	bin := testtool.Program(t, "caddy", "apt-get install -y caddy", "/usr/bin/caddy")
	block := readmeBlock(t, "caddyfile", "http://"+readmeListenPort+" {", "bind 127.0.0.1")
	dir := t.TempDir()
	startProxy(t, sites, syscall.SIGTERM, func(replacer func(int) *strings.Replacer) (*exec.Cmd, string) {
		// No admin endpoint: it would listen on a fixed port.
		conf := "{\n\tadmin off\n}\n"
		for i := range sites {
			conf += replacer(i).Replace(block)
		}
		confPath := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "--config", confPath, "--adapter", "caddyfile")
		// Caddy keeps its state (autosaved configuration, certificates)
		// under these.
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"),
			"XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		return cmd, "" // Caddy logs to its output
	})
}

// TestCaddyForwardAuth runs the README's Caddy configuration against
// `amojwt serve`: a valid token reaches the application with the caller's
// identity and not the client's X-Amo-* headers, refusals get AMO's 401 as
// amojwt wrote it with exactly one WWW-Authenticate, /auth logs the
// client's request whatever forwarding headers the client sends, and a
// nonce store outage gets amojwt's 401 that says 503.
func TestCaddyForwardAuth(t *testing.T) {
	t.Parallel()
	app, hits := echoUpstream(t)
	appAddr := strings.TrimPrefix(app.URL, "http://")
	s := startServer(t, "--demo", "--trust-forwarded-headers", "--log-format", "json")

	// A second amojwt /auth whose nonce store is down.
	v, err := verifier.New(demoKeys(), verifier.WithNonceStore(downStore{}))
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(newTestForwardAuth(v, false, io.Discard))
	t.Cleanup(down.Close)

	site := &proxySite{amojwt: strings.TrimPrefix(s.url, "http://"), app: appAddr}
	outage := &proxySite{amojwt: strings.TrimPrefix(down.URL, "http://"), app: appAddr}
	startCaddy(t, site, outage)

	send := func(site *proxySite, method, path, token string, header map[string]string) (*http.Response, string) {
		t.Helper()
		auth := ""
		if token != "" {
			auth = "JWT " + token
		}
		return send(t, method, site.url+path, auth, header)
	}
	spoof := map[string]string{"X-Amo-User-Id": "1", "X-Amo-Issuer": "user:1:1", "X-Amo-Jti": "forged"}
	challenge := `JWT realm="Access to addons.mozilla.org external API"`

	// A valid token reaches the application with the caller's identity.
	tok := token(t, "caddy-1")
	resp, body := send(site, "POST", "/app/upload?x=1", tok, spoof)
	var got echo
	if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != 200 || err != nil {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	want := map[string]string{"X-Amo-User-Id": "543210", "X-Amo-Issuer": demoIssuer, "X-Amo-Jti": "caddy-1", "Authorization": ""}
	for k, w := range want {
		if v := strings.Join(got.Header.Values(k), ","); v != w {
			t.Errorf("the application got %s %q, want %q", k, v, w)
		}
	}
	if got.Method != "POST" || got.URI != "/app/upload?x=1" {
		t.Errorf("the application got %s %s", got.Method, got.URI)
	}

	// A token without jti: the client's X-Amo-Jti does not get through.
	resp, body = send(site, "GET", "/app/y", token(t, ""), spoof)
	var noJTI echo
	if err := json.Unmarshal([]byte(body), &noJTI); resp.StatusCode != 200 || err != nil ||
		strings.Join(noJTI.Header.Values("X-Amo-Jti"), ",") != "" || noJTI.Header.Get("X-Amo-User-Id") != "543210" {
		t.Errorf("token without jti: %d %s", resp.StatusCode, body)
	}

	// Refusals: amojwt's status, JSON and headers; the application never
	// sees them.
	before := hits.Load()
	forged := jwttest.Sign(inspectHeader, fmt.Sprintf(`{"iss":"user:543210:23","jti":"caddy-2","iat":%d,"exp":%d}`,
		time.Now().Unix(), time.Now().Unix()+60), []byte("not the secret"))
	refusals := []struct {
		name, token string
		wantBody    string
	}{
		{"replay", tok, `{"detail":"JWT jti (nonce) has already been used."}`},
		{"forgery", forged, `{"detail":"Error decoding signature."}`},
		{"no credentials", "", `{"detail":"Authentication credentials were not provided."}`},
	}
	for _, r := range refusals {
		resp, body := send(site, "GET", "/app/x", r.token, nil)
		if resp.StatusCode != 401 || body != r.wantBody || resp.Header.Get("Content-Type") != "application/json" ||
			strings.Join(resp.Header.Values("WWW-Authenticate"), "\n") != challenge {
			t.Errorf("%s: %d %s %v, want 401 %s with one WWW-Authenticate: %s", r.name, resp.StatusCode, body, resp.Header, r.wantBody, challenge)
		}
	}
	if n := hits.Load() - before; n != 0 {
		t.Errorf("the application got %d refused requests", n)
	}

	// With --trust-forwarded-headers the log line names the client's
	// request, not Caddy's, nor what the client's forwarding headers say.
	send(site, "PUT", "/app/logged?x=1", token(t, "caddy-4"), forwardingSpoof)
	send(site, "PUT", "/app/logged-anonymous", "", forwardingSpoof)
	checkLoggedRequest(t, s.stderr.String(), "PUT", "/app/logged")
	checkLoggedRequest(t, s.stderr.String(), "PUT", "/app/logged-anonymous")

	// The nonce store is down: Caddy passes amojwt's 401 that says 503.
	resp, body = send(outage, "GET", "/app/x", token(t, "caddy-3"), nil)
	if resp.StatusCode != 401 || body != `{"detail":"Authentication is temporarily unavailable; try again."}` ||
		resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-Amo-Status") != "503" ||
		strings.Join(resp.Header.Values("WWW-Authenticate"), "\n") != challenge {
		t.Errorf("store outage: %d %s %v", resp.StatusCode, body, resp.Header)
	}
}
