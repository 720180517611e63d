//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/verifier"
)

// nginxBinary finds nginx (Debian package nginx), skipping the test
// without it, or failing it when CI is set.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	msg := "nginx not found; install it with `apt-get install nginx`"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this is a failure, not a skip)")
	}
	t.Skip(msg + " (set CI to turn this skip into a failure)")
	return ""
}

// readmeNginx returns the server block of the README's nginx section,
// which this test runs as it is written, addresses aside.
func readmeNginx(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```nginx\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no ```nginx block")
	}
	for _, want := range []string{"listen 127.0.0.1:8000 default_server;", "127.0.0.1:8080", "127.0.0.1:9000"} {
		if !strings.Contains(block, want) {
			t.Fatalf("the README's nginx block lacks %q", want)
		}
	}
	return block
}

// nginxSite is one server block: the README's, listening on a loopback
// port, with amojwt at amojwt and the application at app.
type nginxSite struct {
	amojwt, app string // host:port
	url         string // set by startNginx
}

// startNginx runs nginx in the foreground with one server block per site,
// its files in a temporary directory, until the test ends.
func startNginx(t *testing.T, sites ...*nginxSite) {
	t.Helper()
	bin := nginxBinary(t)
	block := readmeNginx(t)
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freeLoopbackPorts(len(sites))
		if err != nil {
			t.Fatal(err)
		}
		var servers strings.Builder
		for i, s := range sites {
			server := strings.NewReplacer(
				"127.0.0.1:8000", "127.0.0.1:"+strconv.Itoa(ports[i]),
				"127.0.0.1:8080", s.amojwt,
				"127.0.0.1:9000", s.app,
			).Replace(block)
			servers.WriteString(server)
			s.url = "http://127.0.0.1:" + strconv.Itoa(ports[i])
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
		if lastErr = launchNginx(t, bin, dir, confPath, sites[0].url); lastErr == nil {
			return
		}
	}
	t.Fatal(lastErr)
}

// launchNginx starts nginx and waits until url answers; on failure it
// returns the error log.
func launchNginx(t *testing.T, bin, dir, conf, url string) error {
	t.Helper()
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return fmt.Errorf("nginx exited (%v): %s\n%s", err, out.String(), log)
		default:
		}
		if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 100*time.Millisecond); err == nil {
			conn.Close()
			t.Cleanup(stop)
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return errors.New("nginx did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeLoopbackPorts returns n loopback ports that were free a moment ago.
func freeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
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

	site := &nginxSite{amojwt: strings.TrimPrefix(s.url, "http://"), app: appAddr}
	outage := &nginxSite{amojwt: strings.TrimPrefix(down.URL, "http://"), app: appAddr}
	startNginx(t, site, outage)

	send := func(site *nginxSite, method, path, token string, header map[string]string) (*http.Response, string) {
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
	// request, not nginx's subrequest.
	if logs := s.stderr.String(); !strings.Contains(logs, `"method":"POST","path":"/app/upload"`) ||
		!strings.Contains(logs, `"remote":"127.0.0.1"`) {
		t.Errorf("the log does not name the original request:\n%s", logs)
	}
}
