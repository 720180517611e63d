//go:build unix

package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/redistest"
)

// TestServeRedis runs two servers on one real Redis: a token used on one
// is a replay on the other; when Redis goes away, /readyz and requests
// answer 503 and the store errors are counted.
func TestServeRedis(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	// A Redis that has remembered nonces for an hour: on a fresh one the
	// reset guard (SPEC §5) would refuse jti-bearing tokens issued before
	// the first claim, for the leeway and a second.
	redis.Do("SET", "serve-test:epoch", strconv.FormatInt(time.Now().Add(-time.Hour).UnixMilli(), 10))
	url := "redis://" + redis.Addr()
	a := startServer(t, "--demo", "--redis", url, "--redis-key-prefix", "serve-test:", "--store-timeout", "1s")
	b := startServer(t, "--demo", "--redis", url, "--redis-key-prefix", "serve-test:", "--store-timeout", "1s")

	tok := token(t, "shared-1")
	if resp, body := a.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+tok); resp.StatusCode != 200 {
		t.Fatalf("first use on a: %d %s", resp.StatusCode, body)
	}
	if resp, body := b.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+tok); resp.StatusCode != 401 ||
		body != `{"detail":"JWT jti (nonce) has already been used."}` {
		t.Errorf("replay on b: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.get(t, "GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Errorf("/readyz with Redis up: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(a.stderr.String(), "nonce_store=redis") || !strings.Contains(a.stderr.String(), "reset_guard=true") ||
		strings.Contains(a.stderr.String(), redis.Addr()) {
		t.Errorf("the start line should name the store, not its URL, and its reset guard, always on:\n%s", a.stderr)
	}

	redis.Kill()
	before := a.scrape(t)
	resp, body := a.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+token(t, "shared-2"))
	if resp.StatusCode != 503 || body != `{"detail":"Authentication is temporarily unavailable; try again."}` || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Redis down: %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.get(t, "GET", "/readyz", ""); resp.StatusCode != 503 {
		t.Errorf("/readyz with Redis down: %d", resp.StatusCode)
	}
	after := a.scrape(t)
	for _, series := range []string{`amojwt_nonce_store_errors_total`, `amojwt_requests_total{decision="unavailable",reason="unavailable"}`} {
		if got := after[series] - before[series]; got != 1 {
			t.Errorf("%s moved by %v, want 1", series, got)
		}
	}
	// A token without jti needs no store (SPEC §5, amo profile).
	if resp, body := a.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+token(t, "")); resp.StatusCode != 200 {
		t.Errorf("no jti with Redis down: %d %s", resp.StatusCode, body)
	}
}

func TestServeRedisBadURL(t *testing.T) {
	t.Parallel()
	err, _, _ := runCommand(t, "serve", "--demo", "--redis", "http://user:hunter2@redis.internal")
	if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), "--redis") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v, want a usage error about --redis without the password", err)
	}
}

// TestServeFreshRedisReadiness is a CI job's start: a Redis never used, a
// server started on it, a wait for /readyz, then a token. The server
// establishes the store's epoch when it starts, says 503 while the reset
// guard (SPEC §5) would refuse tokens signed then, and says ready once a
// token signed from then on is accepted: the first one is.
func TestServeFreshRedisReadiness(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	start := time.Now()
	s := startServer(t, "--demo", "--redis", "redis://"+redis.Addr(), "--leeway", "1500ms", "--store-timeout", "5s")
	if got := redis.Do("EXISTS", "amojwt:nonce:epoch"); got != "1" {
		t.Errorf("the store's epoch was not established at start (EXISTS = %s)", got)
	}
	resp, body := s.get(t, "GET", "/readyz", "")
	if resp.StatusCode != 503 || body != `{"status":"starting"}` || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz at once: %d %s, Retry-After %q; want 503 starting", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	deadline := start.Add(15 * time.Second)
	for {
		resp, body := s.get(t, "GET", "/readyz", "")
		if resp.StatusCode == 200 {
			break
		}
		if body != `{"status":"starting"}` || time.Now().After(deadline) {
			t.Fatalf("/readyz %v after start: %d %s", time.Since(start), resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("ready %v after start", time.Since(start).Round(time.Millisecond))
	if resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+token(t, "first-after-ready")); resp.StatusCode != 200 {
		t.Errorf("a token signed once ready: %d %s, want 200", resp.StatusCode, body)
	}
}
