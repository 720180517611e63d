package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// downStore is a nonce store that cannot be reached.
type downStore struct{}

func (downStore) Claim(context.Context, string, string, time.Time) (time.Time, error) {
	return time.Time{}, fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", noncestore.ErrUnavailable)
}

func (downStore) Ping(context.Context) error {
	return fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", noncestore.ErrUnavailable)
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo")
	resp, body := s.get(t, "GET", "/readyz", "")
	if resp.StatusCode != 200 || body != `{"status":"ready"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/readyz with the memory store: %d %s", resp.StatusCode, body)
	}

	var logs bytes.Buffer
	rec := httptest.NewRecorder()
	readyz(downStore{}, slog.New(slog.NewTextHandler(&logs, nil))).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 503 || rec.Body.String() != `{"status":"unavailable"}` || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("/readyz with a store down: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the cause is not logged: %q", logs.String())
	}
}
