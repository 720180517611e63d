package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventually polls cond until it holds, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keysJSON is a keys file holding the demo key and, when extra is not "",
// the key user:9:9 with secret extra.
func keysJSON(extra string) string {
	s := `{"keys": [{"key": "user:543210:23", "secret": "` + demoSecret + `"}`
	if extra != "" {
		s += `, {"key": "user:9:9", "secret": "` + extra + `"}`
	}
	return s + "]}"
}

// replaceFile writes content to a new file and renames it over path, as
// editors and deployment tools do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestServeKeysReloadOnChange changes the keys file under a running server:
// a replaced file is picked up, a broken one keeps the keys in use and says
// why, and keygen's append is picked up too.
func TestServeKeysReloadOnChange(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(keysJSON("")), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--keys", path)
	secret9 := strings.Repeat("9", 64)
	// tok9 signs a token of user:9:9 with a random jti.
	tok9 := func() string {
		c := signConfig{key: "user:9:9", secret: secret9, lifetime: time.Minute}
		tok, err := c.sign(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	status := func(tok string) int {
		resp, _ := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+tok)
		return resp.StatusCode
	}
	if got := status(tok9()); got != 401 {
		t.Fatalf("user:9:9 before the change: %d", got)
	}

	replaceFile(t, path, keysJSON(secret9))
	eventually(t, "the replaced keys file to load", func() bool { return status(tok9()) == 200 })

	// Broken in place: the keys in use stay, the log says why.
	before := s.scrape(t)[`amojwt_keys_reloads_total{result="error"}`]
	if err := os.WriteFile(path, []byte(`{"keys": [{"key": "user:9:9", "secrte": "x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a failed reload", func() bool { return s.scrape(t)[`amojwt_keys_reloads_total{result="error"}`] > before })
	if got := status(tok9()); got != 200 {
		t.Errorf("user:9:9 after a broken file: %d, want the old keys kept", got)
	}
	if logs := s.stderr.String(); !strings.Contains(logs, "keeping the keys in use") || !strings.Contains(logs, `unknown field \"secrte\"`) {
		t.Errorf("the failed reload is not logged with its cause:\n%s", logs)
	}

	// Fixed again, then a key added by keygen.
	replaceFile(t, path, keysJSON(secret9))
	if err, _, _ := runCommand(t, "keygen", "--user-id", "5", "--key-number", "5", "--keys", path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the keygen key", func() bool { return strings.Contains(s.stderr.String(), "keys=3") })
	if got := status(tok9()); got != 200 {
		t.Errorf("user:9:9 after keygen: %d", got)
	}
}

// TestServeKeysReloadOnSIGHUP sends the test process SIGHUP while serve
// listens for it. It does not run in parallel, so no other server is
// running when the signal arrives.
func TestServeKeysReloadOnSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(keysJSON("")), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--keys", path)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the SIGHUP reload", func() bool {
		return strings.Contains(s.stderr.String(), "amojwt keys reloaded") && strings.Contains(s.stderr.String(), "trigger=SIGHUP")
	})
	if got := s.scrape(t)[`amojwt_keys_reloads_total{result="ok"}`]; got != 1 {
		t.Errorf("%v ok reloads counted, want 1", got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}
