package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
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
