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

func (downStore) Ping(context.Context) (time.Time, error) {
	return time.Time{}, fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", noncestore.ErrUnavailable)
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--demo")
	resp, body := s.get(t, "GET", "/readyz", "")
	if resp.StatusCode != 200 || body != `{"status":"ready"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/readyz with the memory store: %d %s", resp.StatusCode, body)
	}

}

// epochStore is a nonce store that answers Ping with its epoch, or err.
type epochStore struct {
	epoch time.Time
	err   error
}

func (s epochStore) Claim(context.Context, string, string, time.Time) (time.Time, error) {
	return s.epoch, s.err
}

func (s epochStore) Ping(context.Context) (time.Time, error) { return s.epoch, s.err }

func TestReadyzAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 10, 300_000_000, time.UTC) // floor: 12:00:10
	down := fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", noncestore.ErrUnavailable)
	tests := []struct {
		name       string
		store      epochStore
		guard      bool
		leeway     time.Duration
		status     int
		body       string
		retryAfter string
		log        string
	}{
		{"store down", epochStore{err: down}, true, 5 * time.Second, 503, `{"status":"unavailable"}`, "1", "connection refused"},
		{"no reset guard", epochStore{}, true, 5 * time.Second, 200, `{"status":"ready"}`, "", ""},
		{"epoch long ago", epochStore{epoch: now.Add(-time.Hour)}, true, 5 * time.Second, 200, `{"status":"ready"}`, "", ""},
		// iat 12:00:10 is refused while 10 <= 5 + 5: ready from 12:00:11.
		{"epoch 12:00:05.9, leeway 5s", epochStore{epoch: now.Add(-4400 * time.Millisecond)}, true, 5 * time.Second,
			503, `{"status":"starting"}`, "1", "reset guard"},
		{"epoch 12:00:04, leeway 5s: lapsed", epochStore{epoch: now.Add(-6300 * time.Millisecond)}, true, 5 * time.Second,
			200, `{"status":"ready"}`, "", ""},
		// 10 <= 5 + 5.5 refused, 11 passes: ready from 12:00:11.
		{"epoch 12:00:05, leeway 5.5s", epochStore{epoch: now.Add(-5300 * time.Millisecond)}, true, 5500 * time.Millisecond,
			503, `{"status":"starting"}`, "1", "reset guard"},
		{"epoch now, leeway 5s", epochStore{epoch: now}, true, 5 * time.Second, 503, `{"status":"starting"}`, "6", "reset guard"},
		{"epoch now, replay checks off", epochStore{epoch: now}, false, 5 * time.Second, 200, `{"status":"ready"}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			h := readyz(tt.store, tt.guard, tt.leeway, func() time.Time { return now },
				slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body || rec.Header().Get("Retry-After") != tt.retryAfter {
				t.Errorf("%d %s Retry-After %q, want %d %s %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"),
					tt.status, tt.body, tt.retryAfter)
			}
			if !strings.Contains(logs.String(), tt.log) || tt.log == "" && logs.Len() > 0 {
				t.Errorf("log %q, want it to mention %q", logs.String(), tt.log)
			}
		})
	}
}

// TestGuardWait holds guardWait to the verifier's own rule: a token signed
// at the first instant guardWait allows passes the reset guard, and one
// signed a second before does not.
func TestGuardWait(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 3, 1, 12, 0, 5, 900_000_000, time.UTC)
	for _, leeway := range []time.Duration{0, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 5*time.Second + 1} {
		for _, now := range []time.Time{epoch, epoch.Add(3 * time.Second), epoch.Add(time.Minute)} {
			ready := now.Add(guardWait(epoch, now, leeway))
			passes := func(iat time.Time) bool {
				return float64(iat.Unix()) > float64(epoch.Unix())+leeway.Seconds() // SPEC §5, as the verifier checks it
			}
			if !passes(ready) || ready.After(now) && passes(ready.Add(-time.Second)) {
				t.Errorf("leeway %v, now %v: ready at %v; a token signed then passes: %v, a second before: %v",
					leeway, now, ready, passes(ready), passes(ready.Add(-time.Second)))
			}
		}
	}
	if w := guardWait(time.Time{}, epoch, 5*time.Second); w != 0 {
		t.Errorf("guardWait of the zero epoch = %v, want 0", w)
	}
}
