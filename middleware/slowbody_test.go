package middleware_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// TestRefusalDoesNotWaitForBody: a refused request whose client announced
// a body and sends it slowly, or never, is answered at once and its
// connection closed within a second, on a server without a read timeout
// (net/http's default), which would otherwise wait for the body forever.
func TestRefusalDoesNotWaitForBody(t *testing.T) {
	t.Parallel()
	v := newVerifier(t)
	tests := []struct {
		name    string
		opts    []middleware.Option
		request string // sent, then nothing more
	}{
		{"no credentials, Content-Length", nil,
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\naaaa"},
		{"no credentials, chunked", nil,
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"},
		{"bad token", nil,
			"PUT / HTTP/1.1\r\nHost: x\r\nAuthorization: JWT " + tokBadSignature + "\r\nContent-Length: 100000\r\n\r\n"},
		{"own error writer", []middleware.Option{middleware.WithErrorWriter(func(w http.ResponseWriter, _ *http.Request, err *verifier.Error) {
			http.Error(w, err.Detail(), err.Status())
		})}, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\naaaa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(middleware.New(v, tt.opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				t.Error("the handler ran")
			})))
			t.Cleanup(srv.Close)
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tt.request); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
				t.Errorf("answered %s, Connection: close %v; want 401 and close", resp.Status, resp.Close)
			}
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Errorf("the connection was not closed after the answer: %v", err)
			}
		})
	}
}

// TestAcceptedBodyKeepsConnection: a request the middleware accepts keeps
// its connection whatever it sends; the handler reads the body.
func TestAcceptedBodyKeepsConnection(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(middleware.New(newVerifier(t))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest("POST", srv.URL, strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "JWT "+tokA)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "hello" || resp.Close {
		t.Errorf("got %d %q, Connection: close %v; want 200 hello, kept", resp.StatusCode, b, resp.Close)
	}
}

// TestRefusalLetsBodyArrive: a client that sends its whole body before it
// reads the answer, as most do, can finish sending it and then reads the
// refusal, rather than a reset, when the body arrives within a moment.
func TestRefusalLetsBodyArrive(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(middleware.New(newVerifier(t))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran")
	})))
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	const part, parts = 8 << 10, 8
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", part*parts); err != nil {
		t.Fatal(err)
	}
	for i := range parts {
		time.Sleep(20 * time.Millisecond) // the answer is sent meanwhile
		if _, err := conn.Write(make([]byte, part)); err != nil {
			t.Fatalf("writing part %d of the body: %v", i, err)
		}
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("answered %s, Connection: close %v; want 401 and close", resp.Status, resp.Close)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Errorf("the connection ended with %v, want a close", err)
	}
}
