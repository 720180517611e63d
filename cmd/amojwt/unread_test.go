package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCloseUnread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		chunked      bool
		read         func(r *http.Request) // what the handler reads before it answers
		sendContinue bool                  // the handler sends 100 Continue first
		wantClose    bool
	}{
		{"read to EOF", false, func(r *http.Request) { _, _ = io.ReadAll(r.Body) }, false, false},
		{"chunked, read to EOF", true, func(r *http.Request) { _, _ = io.ReadAll(r.Body) }, false, false},
		{"read to its Content-Length, EOF not seen", false, func(r *http.Request) { _, _ = io.ReadFull(r.Body, make([]byte, 5)) }, false, false},
		{"read by another goroutine", false, func(r *http.Request) {
			done := make(chan struct{})
			go func() { _, _ = io.ReadAll(r.Body); close(done) }()
			<-done
		}, false, false},
		{"partly read", false, func(r *http.Request) { _, _ = io.ReadFull(r.Body, make([]byte, 2)) }, false, true},
		{"chunked, partly read", true, func(r *http.Request) { _, _ = io.ReadFull(r.Body, make([]byte, 2)) }, false, true},
		{"not read", false, func(*http.Request) {}, false, true},
		{"not read, 100 Continue first", false, func(*http.Request) {}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(closeUnread(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.read(r)
				if tt.sendContinue {
					w.WriteHeader(http.StatusContinue)
				}
				_, _ = io.WriteString(w, "ok")
			})))
			t.Cleanup(srv.Close)
			var body io.Reader = strings.NewReader("hello")
			if tt.chunked {
				body = io.MultiReader(body) // no length: sent chunked
			}
			resp, err := http.Post(srv.URL, "text/plain", body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(got) != "ok" || resp.Close != tt.wantClose {
				t.Errorf("got %d %q, Connection: close %v; want 200 ok, close %v", resp.StatusCode, got, resp.Close, tt.wantClose)
			}
		})
	}

	// No body: nothing to close for.
	srv := httptest.NewServer(closeUnread(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Close {
		t.Error("a GET without a body was answered with Connection: close")
	}
}
