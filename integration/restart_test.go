package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
)

// TestServeRestartKeepsNonces restarts the real binary with --data-dir
// (SPEC §5): after SIGTERM the next start holds the nonces used before,
// and is ready at once; after SIGKILL (nothing saved) it refuses the tokens
// that could have been used before the crash, says 503 on /readyz while it
// does, and accepts fresh tokens once it says ready.
func TestServeRestartKeepsNonces(t *testing.T) {
	t.Parallel()
	bin := buildAmojwt(t)
	keys := writeKeys(t, hostileSecret)
	dir := t.TempDir()
	// A short leeway keeps the reset guard's wait short.
	args := []string{"--keys", keys, "--data-dir", dir, "--leeway", "1s"}
	jti := 0
	fresh := func() string {
		jti++
		now := time.Now().Unix()
		claims := fmt.Sprintf(`{"iss":%q,"jti":"restart-%d","iat":%d,"exp":%d}`, testIssuer, jti, now, now+60)
		return jwttest.Sign(`{"alg":"HS256","typ":"JWT"}`, claims, []byte(hostileSecret))
	}

	// First start: nothing saved, so the reset guard applies until it
	// lapses.
	p := startServeProcess(t, bin, args...)
	waitReady(t, p)
	used := fresh()
	expect(t, p, used, http.StatusOK, "")
	expect(t, p, used, http.StatusUnauthorized, "JWT jti (nonce) has already been used.")

	// A graceful stop saves the nonces; the next start holds them, and is
	// ready at once (its epoch is the first start's).
	stop(t, p, syscall.SIGTERM)
	if _, err := os.Stat(filepath.Join(dir, "nonces")); err != nil {
		t.Fatalf("no state file after SIGTERM: %v", err)
	}
	p = startServeProcess(t, bin, args...)
	if status, body := readyz(t, p); status != http.StatusOK {
		t.Errorf("/readyz after a clean restart: %d %s, want 200 at once", status, body)
	}
	expect(t, p, used, http.StatusUnauthorized, "JWT jti (nonce) has already been used.")
	if _, err := os.Stat(filepath.Join(dir, "nonces")); !os.IsNotExist(err) {
		t.Errorf("the state file is still there once loaded: %v", err)
	}
	usedAgain := fresh()
	expect(t, p, usedAgain, http.StatusOK, "")

	// A crash saves nothing: the next start refuses the tokens that could
	// have been used before it, and says so on /readyz until that lapses.
	stop(t, p, syscall.SIGKILL)
	p = startServeProcess(t, bin, args...)
	if status, body := readyz(t, p); status != http.StatusServiceUnavailable || body != `{"status":"starting"}` {
		t.Errorf("/readyz right after a crash: %d %s, want 503 starting", status, body)
	}
	for _, tok := range []string{used, usedAgain} {
		expect(t, p, tok, http.StatusUnauthorized, "JWT jti (nonce) cannot be checked: token predates the nonce store.")
	}
	waitReady(t, p)
	tok := fresh()
	expect(t, p, tok, http.StatusOK, "")
	expect(t, p, tok, http.StatusUnauthorized, "JWT jti (nonce) has already been used.")
	// The refusals above claimed the nonces (the verifier claims, then
	// applies the guard): they are replays now.
	for _, tok := range []string{used, usedAgain} {
		expect(t, p, tok, http.StatusUnauthorized, "JWT jti (nonce) has already been used.")
	}
}

// stop sends sig to p and waits for it to exit: within the server's
// shutdown bound for SIGTERM, at once for SIGKILL.
func stop(t *testing.T, p *serveProcess, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("amojwt serve still running 20 s after %v", sig)
	}
	if sig == syscall.SIGTERM && !p.cmd.ProcessState.Success() {
		t.Fatalf("amojwt serve exited with %v after SIGTERM:\n%s", p.cmd.ProcessState, p.logs.String())
	}
}

// readyz returns the status and body of p's /readyz.
func readyz(t *testing.T, p *serveProcess) (int, string) {
	t.Helper()
	resp, err := http.Get(p.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// waitReady polls p's /readyz until it answers 200, for at most 15 s;
// meanwhile it must answer 503 starting.
func waitReady(t *testing.T, p *serveProcess) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body := readyz(t, p)
		if status == http.StatusOK {
			return
		}
		if body != `{"status":"starting"}` || time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s, want 503 starting, then 200", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expect sends token to p's profile endpoint and fails t unless the answer
// has status and, for a refusal, AMO's detail text.
func expect(t *testing.T, p *serveProcess, token string, status int, detail string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.base+"/api/v5/accounts/profile/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "JWT "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Detail string `json:"detail"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != status || body.Detail != detail {
		t.Fatalf("%d %q, want %d %q", resp.StatusCode, body.Detail, status, detail)
	}
}
