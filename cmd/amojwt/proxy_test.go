package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoUpstream is an upstream that answers every request with its method,
// URI and headers as JSON, and counts the requests it got.
func echoUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Method: r.Method, URI: r.RequestURI, Header: r.Header})
	}))
	t.Cleanup(up.Close)
	return up, &hits
}

// echo is what echoUpstream answers.
type echo struct {
	Method, URI string
	Header      http.Header
}

func TestServeUpstream(t *testing.T) {
	t.Parallel()
	up, hits := echoUpstream(t)
	s := startServer(t, "--demo", "--upstream", up.URL+"/base")

	send := func(method, path, auth string, header map[string]string) (*http.Response, string) {
		t.Helper()
		return send(t, method, s.url+path, auth, header)
	}

	tok := token(t, "p1")
	spoof := map[string]string{"X-Amo-User-Id": "1", "X-Amo-Issuer": "user:1:1", "X-Amo-Jti": "forged", "X-Amo-Role": "admin",
		"X-Forwarded-For": "203.0.113.5"}
	resp, body := send("POST", "/some/path?q=1", "JWT "+tok, spoof)
	var got echo
	if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != 200 || err != nil {
		t.Fatalf("proxied: %d %s", resp.StatusCode, body)
	}
	want := map[string]string{"X-Amo-User-Id": "543210", "X-Amo-Issuer": demoIssuer, "X-Amo-Jti": "p1", "X-Amo-Role": "",
		"Authorization": "", "X-Forwarded-For": "127.0.0.1"}
	for k, w := range want {
		if v := strings.Join(got.Header.Values(k), ","); v != w {
			t.Errorf("upstream got %s %q, want %q", k, v, w)
		}
	}
	if got.Method != "POST" || got.URI != "/base/some/path?q=1" {
		t.Errorf("upstream got %s %s", got.Method, got.URI)
	}

	// Refusals are amojwt's, and never reach the upstream.
	before := hits.Load()
	if resp, body := send("GET", "/x", "JWT "+tok, nil); resp.StatusCode != 401 || body != `{"detail":"JWT jti (nonce) has already been used."}` {
		t.Errorf("replay: %d %s", resp.StatusCode, body)
	}
	if resp, body := send("GET", "/x", "", nil); resp.StatusCode != 401 || body != `{"detail":"Authentication credentials were not provided."}` {
		t.Errorf("anonymous: %d %s", resp.StatusCode, body)
	}
	if resp, body := send("GET", "/healthz", "", nil); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
	if n := hits.Load() - before; n != 0 {
		t.Errorf("the upstream got %d refused requests", n)
	}

	// A token without jti: X-Amo-Jti is empty, whatever the client sent.
	resp, body = send("GET", "/", "JWT "+token(t, ""), map[string]string{"X-Amo-Jti": "forged"})
	var noJTI echo
	if err := json.Unmarshal([]byte(body), &noJTI); resp.StatusCode != 200 || err != nil ||
		strings.Join(noJTI.Header.Values("X-Amo-Jti"), ",") != "" || len(noJTI.Header.Values("X-Amo-Jti")) != 1 {
		t.Errorf("no jti: %d %s", resp.StatusCode, body)
	}
}

func TestServeUpstreamTrustForwarded(t *testing.T) {
	t.Parallel()
	up, _ := echoUpstream(t)
	s := startServer(t, "--demo", "--upstream", up.URL, "--trust-forwarded-headers")
	req, err := http.NewRequest("GET", s.url+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "JWT "+token(t, "tf1"))
	req.Header.Set("X-Forwarded-For", "203.0.113.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got echo
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "203.0.113.5, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the client's with amojwt's peer appended", xff)
	}
}

func TestServeUpstreamDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := startServer(t, "--demo", "--upstream", "http://"+addr)
	resp, body := s.get(t, "GET", "/x", "JWT "+token(t, "d1"))
	if resp.StatusCode != 502 || body != `{"detail":"Bad gateway."}` {
		t.Errorf("upstream down: %d %s", resp.StatusCode, body)
	}
}

func TestParseUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		wantErr string
	}{
		{"http://127.0.0.1:9000", ""},
		{"https://app.internal/base/", ""},
		{"127.0.0.1:9000", "want an http:// or https:// URL"},
		{"ftp://x", "want an http:// or https:// URL"},
		{"http://", "no host"},
		{"http://x/?a=1", "query or fragment"},
		{"http://x/#f", "query or fragment"},
	}
	for _, tt := range tests {
		_, err := parseUpstream(tt.raw)
		if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseUpstream(%q) = %v, want %q", tt.raw, err, tt.wantErr)
		}
	}
	err, _, _ := runCommand(t, "serve", "--demo", "--upstream", "localhost:9000")
	if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), "--upstream") {
		t.Errorf("serve --upstream localhost:9000: %v, want a usage error", err)
	}
}

// rawRequest sends a GET of target (sent as it is, unnormalized) to addr
// with the header lines given, and returns the answer with its body.
func rawRequest(t *testing.T, addr, target string, header ...string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: amojwt\r\nConnection: close\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
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

// TestServeUpstreamPathConfined: whatever its encoding, no request path
// reaches the upstream outside --upstream's base path. A path with a dot
// segment, however encoded, answers 400 before authentication; other paths
// are forwarded as the client encoded them.
func TestServeUpstreamPathConfined(t *testing.T) {
	t.Parallel()
	up, hits := echoUpstream(t)
	s := startServer(t, "--demo", "--upstream", up.URL+"/base")
	addr := strings.TrimPrefix(s.url, "http://")
	const refused = `{"detail":"Path segments . and .. are not allowed, encoded or not."}`
	tests := []struct {
		name, target string
		wantStatus   int
		wantURI      string // what the upstream gets; "" when it gets nothing
	}{
		{"encoded dot-dot", "/%2e%2e/admin", 400, ""},
		{"encoded dot-dot, upper case", "/%2E%2E/admin", 400, ""},
		{"half encoded", "/.%2e/admin", 400, ""},
		{"other half encoded", "/%2e./admin", 400, ""},
		{"dot-dot, encoded slash", "/..%2fadmin", 400, ""},
		{"all encoded", "/%2e%2e%2fadmin", 400, ""},
		{"deeper than the base", "/a/%2e%2e/%2e%2e/%2e%2e/admin", 400, ""},
		{"double encoded", "/%252e%252e/admin", 400, ""},
		{"triple encoded", "/%25252e%25252e/admin", 400, ""},
		{"encoded backslash", "/..%5cadmin", 400, ""},
		{"backslash", `/..\admin`, 400, ""},
		{"path parameter", "/..;/admin", 400, ""},
		{"encoded, path parameter", "/%2e%2e;x=1/admin", 400, ""},
		{"encoded dot", "/%2e/admin", 400, ""},
		{"trailing dot-dot", "/a/%2e%2e", 400, ""},
		{"three dots", "/%2e%2e%2e/admin", 400, ""},
		// net/http's mux redirects a plain dot segment to the cleaned
		// path, which stays under the base once followed.
		{"plain dot-dot", "/../admin", 307, ""},
		{"plain path", "/some/path?q=1", 200, "/base/some/path?q=1"},
		{"dots in a name", "/file..txt/.well", 200, "/base/file..txt/.well"},
		{"dot-dot in the query", "/x?next=/%2e%2e/admin", 200, "/base/x?next=/%2e%2e/admin"},
		{"encoded slash", "/a%2Fb", 200, "/base/a%2Fb"},
		{"encoded percent", "/100%25", 200, "/base/100%25"},
		{"encoded percent, not an escape once decoded", "/100%25off", 200, "/base/100%25off"},
		{"double encoded behind a bad escape", "/%25zz/%252e%252e/admin", 400, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			resp, body := rawRequest(t, addr, tt.target, "Authorization: JWT "+token(t, fmt.Sprint("confined-", i)))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s: %d %s, want %d", tt.target, resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == 400 && (body != refused || resp.Header.Get("Content-Type") != "application/json") {
				t.Errorf("%s: 400 %s %q, want %s", tt.target, body, resp.Header.Get("Content-Type"), refused)
			}
			var got echo
			if tt.wantURI != "" {
				if err := json.Unmarshal([]byte(body), &got); err != nil || got.URI != tt.wantURI {
					t.Errorf("%s: the upstream got %q (%v), want %q", tt.target, got.URI, err, tt.wantURI)
				}
			} else if n := hits.Load() - before; n != 0 {
				t.Errorf("%s: the upstream got %d requests, want none", tt.target, n)
			}
		})
	}

	// Refused before authentication: no token is spent, none is needed.
	if resp, body := rawRequest(t, addr, "/%2e%2e/admin"); resp.StatusCode != 400 || body != refused {
		t.Errorf("without credentials: %d %s, want 400 %s", resp.StatusCode, body, refused)
	}
}

// TestServeUpstreamForwardingHeaders: without --trust-forwarded-headers no
// header through which a client could pose as a proxy (its address, the
// host, scheme, port or URI it asked for) reaches the upstream as the
// client sent it, also spelled with "_" or "."; with the flag, the proxy in
// front is trusted and they arrive as it sent them.
func TestServeUpstreamForwardingHeaders(t *testing.T) {
	t.Parallel()
	up, _ := echoUpstream(t)
	plain := startServer(t, "--demo", "--upstream", up.URL)
	trusting := startServer(t, "--demo", "--upstream", up.URL, "--trust-forwarded-headers")
	const spoofed = "203.0.113.9"
	tests := []struct {
		name string // as the client spells it
		// want is what the upstream gets without the flag: "" for
		// nothing, else amojwt's own value.
		want string
		// wantTrusted is what it gets with the flag.
		wantTrusted string
	}{
		{"X-Forwarded-For", "127.0.0.1", spoofed + ", 127.0.0.1"},
		{"X-Forwarded-Host", "amojwt", spoofed},
		{"X-Forwarded-Proto", "http", spoofed},
		{"Forwarded", "", spoofed},
		{"X-Real-IP", "", spoofed},
		{"X-Real-Ip", "", spoofed},
		{"X_Real_IP", "", spoofed},
		{"X.Real.IP", "", spoofed},
		{"X-Forwarded-Port", "", spoofed},
		{"X-Forwarded-Server", "", spoofed},
		{"X-Forwarded-Prefix", "", spoofed},
		{"X-Forwarded-Ssl", "", spoofed},
		{"X-Forwarded-Scheme", "", spoofed},
		{"X-Forwarded-Uri", "", spoofed},
		{"X-Forwarded-Method", "", spoofed},
		{"X-Original-URI", "", spoofed},
		{"X-Original-URL", "", spoofed},
		{"X-Original-Host", "", spoofed},
		{"X-Original-Forwarded-For", "", spoofed},
		{"X-Rewrite-URL", "", spoofed},
		{"X-Client-IP", "", spoofed},
		{"Client-IP", "", spoofed},
		{"True-Client-IP", "", spoofed},
		{"CF-Connecting-IP", "", spoofed},
		{"Fastly-Client-IP", "", spoofed},
		{"X-Cluster-Client-IP", "", spoofed},
		{"X-ProxyUser-Ip", "", spoofed},
		{"X-Envoy-External-Address", "", spoofed},
		{"X-Url-Scheme", "", spoofed},
		{"Front-End-Https", "", spoofed},
		{"X-Forwarded", "", spoofed},
		{"Forwarded-For", "", spoofed},
		{"X-Host", "", spoofed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range []struct {
				srv  *server
				want string
			}{{plain, tt.want}, {trusting, tt.wantTrusted}} {
				resp, body := rawRequest(t, strings.TrimPrefix(s.srv.url, "http://"), "/x",
					"Authorization: JWT "+token(t, fmt.Sprint("fwd-", i, s.want)), tt.name+": "+spoofed)
				var got echo
				if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != 200 || err != nil {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				if v := strings.Join(got.Header.Values(tt.name), ","); v != s.want {
					t.Errorf("trusted %v: the upstream got %s %q, want %q", s.srv == trusting, tt.name, v, s.want)
				}
				if s.srv == plain {
					for k, v := range got.Header {
						if strings.Contains(strings.Join(v, ","), spoofed) {
							t.Errorf("the upstream got the client's value in %s: %q", k, v)
						}
					}
				}
			}
		})
	}
}

// FuzzHasDotSegment: a path hasDotSegment lets through stays under the
// base path however many times an upstream decodes it, with "\" read as
// "/" or not; and no path makes it panic.
func FuzzHasDotSegment(f *testing.F) {
	for _, seed := range []string{"/a/b", "/%2e%2e/admin", "/.%2e/", "/..%2f", "/%252e%252e/", "/..;/", `/..\`, "/100%25off", "/a%2Fb", "/%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if hasDotSegment(p) {
			return
		}
		decoded := p
		for range maxPathDecodings + 1 {
			for _, d := range []string{decoded, strings.ReplaceAll(decoded, `\`, "/")} {
				if got := path.Clean("/base/" + d); got != "/base" && !strings.HasPrefix(got, "/base/") {
					t.Fatalf("hasDotSegment(%q) = false, but %q resolves to %q", p, d, got)
				}
			}
			decoded = unescapeLenient(decoded)
		}
	})
}

// TestServeUpstreamBodyKeepsConnection: a proxied request's body is read
// to its end by the proxy, so the connection is kept for the next request
// (closeUnread closes only connections whose body was left unread).
func TestServeUpstreamBodyKeepsConnection(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	t.Cleanup(up.Close)
	s := startServer(t, "--demo", "--upstream", up.URL)
	for i, body := range []io.Reader{strings.NewReader("hello"), io.MultiReader(strings.NewReader("hello"))} { // sized, chunked
		req, err := http.NewRequest("POST", s.url+"/upload", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "JWT "+token(t, fmt.Sprint("keep-", i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != "hello" || resp.Close {
			t.Errorf("body %d: %d %q, Connection: close %v; want 200 hello, kept", i, resp.StatusCode, got, resp.Close)
		}
	}
}
