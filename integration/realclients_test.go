// Package integration runs the amojwt binary as a real process and sends it
// tokens signed by the JWT libraries that real AMO clients use: npm
// jsonwebtoken (the AMO docs' Node example), npm jose (web-ext sign) and
// PyJWT (Python clients), SPEC §1. The signing scripts are in clients/.
//
// Needs: node with `npm install` run in this directory (jsonwebtoken, jose)
// and Debian's python3-jwt for /usr/bin/python3. Without them the test
// skips, or fails when the environment variable CI is set.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/testtool"
)

// python is Debian's interpreter, which python3-jwt installs into; a
// python3 earlier on PATH (pyenv) may lack the module.
const python = "/usr/bin/python3"

// Commands that get what the tests of this package need.
const (
	getNode    = "apt-get install -y nodejs npm"
	getModules = "cd integration && npm ci"
	getPyJWT   = "apt-get install -y python3-jwt"
)

const (
	testIssuer = "user:543210:23"
	testUserID = 543210
	profileURL = "/api/v5/accounts/profile/"
)

// requireClients skips the test (or, under CI, fails it) unless node with
// integration/node_modules/{jsonwebtoken,jose} and /usr/bin/python3 with
// the jwt module are present.
func requireClients(t *testing.T) {
	t.Helper()
	var missing []testtool.Missing
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, testtool.Missing{What: "node", Get: getNode})
	}
	for _, mod := range []string{"jsonwebtoken", "jose"} {
		if _, err := os.Stat(filepath.Join("node_modules", mod, "package.json")); err != nil {
			missing = append(missing, testtool.Missing{What: "integration/node_modules/" + mod, Get: getModules})
		}
	}
	if err := exec.Command(python, "-c", "import jwt").Run(); err != nil {
		missing = append(missing, testtool.Missing{What: python + " with the jwt module", Get: getPyJWT})
	}
	testtool.Skip(t, missing...)
}

// TestRealClients signs tokens with each client library and sends each
// token twice to a running amojwt serve: a token with a jti is accepted
// once and then refused as a replay; web-ext's jti-less token is accepted
// every time in the amo profile and refused in the strict one (SPEC §5).
func TestRealClients(t *testing.T) {
	requireClients(t)
	secret := randomHex(t, 32)
	bin := buildAmojwt(t)
	keys := writeKeys(t, secret)
	amo := startServe(t, bin, "--keys", keys)
	strict := startServe(t, bin, "--keys", keys, "--profile", "strict")

	jsonwebtoken := []string{"node", filepath.Join("clients", "jsonwebtoken.cjs")}
	jose := []string{"node", filepath.Join("clients", "jose.mjs")}
	pyjwtInt := []string{python, filepath.Join("clients", "pyjwt.py")}
	pyjwtFloat := []string{python, filepath.Join("clients", "pyjwt.py"), "float"}

	accepted := outcome{status: http.StatusOK}
	replayed := outcome{status: http.StatusUnauthorized, detail: "JWT jti (nonce) has already been used."}
	noJTI := outcome{status: http.StatusUnauthorized, detail: "JWT jti (nonce) claim is missing."}
	tests := []struct {
		name   string
		client []string
		server string
		uses   []outcome
	}{
		{"jsonwebtoken docs example/amo", jsonwebtoken, amo, []outcome{accepted, replayed}},
		{"jsonwebtoken docs example/strict", jsonwebtoken, strict, []outcome{accepted, replayed}},
		{"jose web-ext/amo", jose, amo, []outcome{accepted, accepted}},
		{"jose web-ext/strict", jose, strict, []outcome{noJTI, noJTI}},
		{"pyjwt integers/amo", pyjwtInt, amo, []outcome{accepted, replayed}},
		{"pyjwt floats/amo", pyjwtFloat, amo, []outcome{accepted, replayed}},
		{"pyjwt floats/strict", pyjwtFloat, strict, []outcome{accepted, replayed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := sign(t, secret, tt.client)
			for i, want := range tt.uses {
				got := get(t, tt.server, token)
				if got != want {
					t.Errorf("use %d: got %d %q, want %d %q", i+1, got.status, got.detail, want.status, want.detail)
				}
			}
		})
	}
}

// outcome is a response reduced to what the test compares: the status and,
// for a refusal, the detail text; for a 200, detail is empty when the body
// is the profile of testUserID.
type outcome struct {
	status int
	detail string
}

// sign runs a client script and returns the token it prints.
func sign(t *testing.T, secret string, client []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, client[0], client[1:]...)
	cmd.Env = append(os.Environ(), "AMO_KEY="+testIssuer, "AMO_SECRET="+secret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(client, " "), err, stderr.String())
	}
	token := strings.TrimSpace(string(out))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("%s printed %q, not a compact JWS", strings.Join(client, " "), token)
	}
	return token
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get sends the token to the profile endpoint and reduces the response.
func get(t *testing.T, base, token string) outcome {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+profileURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "JWT "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID     int64  `json:"id"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode == http.StatusOK && doc.ID != testUserID {
		t.Errorf("200 with body %s, want the profile of user %d", body, testUserID)
	}
	return outcome{status: resp.StatusCode, detail: doc.Detail}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// writeKeys writes a keys file with one AMO-style key whose user has read
// the developer agreement, and returns its path.
func writeKeys(t *testing.T, secret string) string {
	t.Helper()
	return writeUsersKeys(t, webExtUser{issuer: testIssuer, secret: secret, id: testUserID})
}

// buildAmojwt builds ./cmd/amojwt into a temporary directory.
func buildAmojwt(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "amojwt")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/amojwt")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/amojwt: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a process's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe starts `amojwt serve` with args on a free loopback port, waits
// until /healthz answers 200, and returns its base URL. Cleanup kills it.
func startServe(t *testing.T, bin string, args ...string) string {
	t.Helper()
	return startServeProcess(t, bin, args...).base
}

// serveProcess is a running `amojwt serve`.
type serveProcess struct {
	base   string // http://addr
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited
	logs   *lockedBuffer // its stdout and stderr
}

// startServeProcess is startServe, returning the process so that a test
// can signal it and wait for it to exit.
func startServeProcess(t *testing.T, bin string, args ...string) *serveProcess {
	t.Helper()
	return startServeArgs(t, bin, func() []string { return args })
}

// startServeArgs is startServeProcess with the arguments made anew for
// each attempt, so that they can name free ports of their own.
func startServeArgs(t *testing.T, bin string, makeArgs func() []string) *serveProcess {
	t.Helper()
	const attempts = 3 // a free port can be taken between probe and bind
	for range attempts {
		addr, args := freeAddr(t), makeArgs()
		p := &serveProcess{base: "http://" + addr, exited: make(chan struct{}), logs: new(lockedBuffer)}
		p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
		p.cmd.Env = serveEnv()
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		p.cmd.SysProcAttr = sysProcAttr()
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting amojwt serve: %v", err)
		}
		go func() {
			_ = p.cmd.Wait()
			close(p.exited)
		}()
		t.Cleanup(func() {
			_ = p.cmd.Process.Kill()
			<-p.exited
			if t.Failed() {
				t.Logf("amojwt serve %s output:\n%s", strings.Join(args, " "), p.logs.String())
			}
		})
		if waitHealthy(p.base, p.exited) {
			return p
		}
		select {
		case <-p.exited:
			t.Logf("amojwt serve exited early (retrying on another port):\n%s", p.logs.String())
		default:
			t.Fatalf("amojwt serve %s: /healthz not ready within 15 s:\n%s", strings.Join(args, " "), p.logs.String())
		}
	}
	t.Fatalf("amojwt serve did not start in %d attempts", attempts)
	return nil
}

// serveEnv is this process's environment without AMOJWT_* variables, so
// that only the flags configure the server.
func serveEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AMOJWT_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitHealthy polls base/healthz until it answers 200 (true), the process
// exits, or 15 s pass (false).
func waitHealthy(base string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if resp, err := client.Get(base + "/healthz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-exited:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
