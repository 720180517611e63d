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

// startNginx runs nginx in the foreground with the README's server block
// once per site, its files in a temporary directory, until the test ends.
func startNginx(t *testing.T, sites ...*proxySite) {
	t.Helper()
	bin := testtool.Program(t, "nginx", "apt-get install -y nginx", "/usr/sbin/nginx")
	block := readmeBlock(t, "nginx", "listen 127.0.0.1"+readmeListenPort+" default_server;")
	dir := t.TempDir()
	startProxy(t, sites, syscall.SIGQUIT, func(replacer func(int) *strings.Replacer) (*exec.Cmd, string) {
		var servers strings.Builder
		for i := range sites {
			servers.WriteString(replacer(i).Replace(block))
		}
		conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, servers.String())
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		errorLog := filepath.Join(dir, "error.log")
		return exec.Command(bin, "-p", dir, "-e", errorLog, "-c", confPath), errorLog
	})
}

// TestNginxAuthRequest runs the README's nginx configuration against
// `amojwt serve`: a valid token reaches the application with the caller's
// identity, a replay and a forgery get AMO's JSON answers with exactly one
// WWW-Authenticate, and a nonce store outage gets serve's 503.
func TestNginxAuthRequest(t *testing.T) {
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
	startNginx(t, site, outage)

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
	tok := token(t, "nginx-1")
	resp, body := send(site, "POST", "/app/upload?x=1", tok, spoof)
	var got echo
	if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != 200 || err != nil {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	want := map[string]string{"X-Amo-User-Id": "543210", "X-Amo-Issuer": demoIssuer, "X-Amo-Jti": "nginx-1", "Authorization": ""}
	for k, w := range want {
		if v := strings.Join(got.Header.Values(k), ","); v != w {
			t.Errorf("the application got %s %q, want %q", k, v, w)
		}
	}
	if got.Method != "POST" || got.URI != "/app/upload?x=1" {
		t.Errorf("the application got %s %s", got.Method, got.URI)
	}

	// Refusals: AMO's status, JSON and headers; the application never sees them.
	before := hits.Load()
	forged := jwttest.Sign(inspectHeader, fmt.Sprintf(`{"iss":"user:543210:23","jti":"nginx-2","iat":%d,"exp":%d}`,
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

	// A token without jti: no X-Amo-Jti reaches the application, whatever
	// the client sent.
	resp, body = send(site, "GET", "/app/y", token(t, ""), spoof)
	var noJTI echo
	if err := json.Unmarshal([]byte(body), &noJTI); resp.StatusCode != 200 || err != nil || noJTI.Header.Values("X-Amo-Jti") != nil ||
		noJTI.Header.Get("X-Amo-User-Id") != "543210" {
		t.Errorf("token without jti: %d %s", resp.StatusCode, body)
	}

	// The nonce store is down: nginx answers serve's 503, not a 500 (with
	// the challenge of amojwt's 401, which nginx keeps).
	resp, body = send(outage, "GET", "/app/x", token(t, "nginx-3"), nil)
	if resp.StatusCode != 503 || body != `{"detail":"Authentication is temporarily unavailable; try again."}` ||
		strings.Join(resp.Header.Values("Retry-After"), "\n") != "1" || resp.Header.Get("Content-Type") != "application/json" ||
		strings.Join(resp.Header.Values("WWW-Authenticate"), "\n") != challenge {
		t.Errorf("store outage: %d %s %v", resp.StatusCode, body, resp.Header)
	}

	// With --trust-forwarded-headers the log line names the client's
	// request, not nginx's subrequest, nor what the client's forwarding
	// headers say.
	send(site, "PUT", "/app/logged?x=1", token(t, "nginx-4"), forwardingSpoof)
	send(site, "PUT", "/app/logged-anonymous", "", forwardingSpoof)
	checkLoggedRequest(t, s.stderr.String(), "POST", "/app/upload")
	checkLoggedRequest(t, s.stderr.String(), "PUT", "/app/logged")
	checkLoggedRequest(t, s.stderr.String(), "PUT", "/app/logged-anonymous")
}
