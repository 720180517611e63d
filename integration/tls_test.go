package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// amoConnect is the Node preload that sends a client's connections to
// addons.mozilla.org:443 to a local server (AMO_CONNECT=host:port).
const amoConnect = "clients/amo-connect.cjs"

// nodeClientTimeout bounds one run of a Node client script against the
// mock.
const nodeClientTimeout = 30 * time.Second

// mockAMOTLS is a running `amojwt serve --mock-amo --tls-addr`: HTTP on
// base (what the harness polls) and HTTPS for addons.mozilla.org on
// httpsAddr, with the certificate of the local CA whose certificate is
// caFile.
type mockAMOTLS struct {
	*serveProcess
	httpsAddr string
	caFile    string
}

// startMockAMOTLS starts `amojwt serve --mock-amo` (bin) with args, its
// state and local CA kept in dataDir, serving HTTPS on a free loopback
// port beside HTTP, and waits until it is ready for jti-bearing tokens.
// Cleanup kills it.
func startMockAMOTLS(t *testing.T, bin, dataDir string, args ...string) *mockAMOTLS {
	t.Helper()
	var httpsAddr string
	p := startServeArgs(t, bin, func() []string {
		httpsAddr = freeAddr(t)
		return append([]string{"--mock-amo", "--tls-addr", httpsAddr, "--data-dir", dataDir}, args...)
	})
	// A fresh data directory starts as after a crash: the reset guard
	// refuses tokens signed in the first seconds (SPEC §5).
	waitReady(t, p)
	return &mockAMOTLS{serveProcess: p, httpsAddr: httpsAddr, caFile: filepath.Join(dataDir, "tls", "ca.pem")}
}

// nodeEnv is this process's environment plus what makes an unchanged Node
// client that hard-codes https://addons.mozilla.org reach m over TLS, in
// its own process and every child it starts: the preload, its target and
// the CA to trust.
func (m *mockAMOTLS) nodeEnv(t *testing.T) []string {
	t.Helper()
	preload, err := filepath.Abs(amoConnect)
	if err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(),
		// NODE_OPTIONS takes double-quoted words with backslash escapes.
		"NODE_OPTIONS=--require "+strconv.Quote(preload),
		"AMO_CONNECT="+m.httpsAddr,
		"NODE_EXTRA_CA_CERTS="+m.caFile)
}

// withoutEnv is env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// TestNodeFetchReachesMockOverTLS runs a Node client that fetches
// https://addons.mozilla.org/api/v5/accounts/profile/ with the built-in
// fetch, unchanged, under the preload: it reaches the mock over TLS with
// the local CA trusted, in a child process too, and the profile's URL
// names https://addons.mozilla.org (the Host and scheme the client used).
// Without the CA it fails the certificate check; without AMO_CONNECT the
// preload refuses to run rather than let the client reach the real AMO.
func TestNodeFetchReachesMockOverTLS(t *testing.T) {
	requireClients(t)
	secret := randomHex(t, 32)
	bin := buildAmojwt(t)
	m := startMockAMOTLS(t, bin, t.TempDir(), "--keys", writeKeys(t, secret))
	env := append(m.nodeEnv(t), "AMO_KEY="+testIssuer, "AMO_SECRET="+secret)
	fetchProfile := filepath.Join("clients", "fetch-profile.cjs")
	// The preload and the CA reach a child through the environment alone.
	child := `require('node:child_process').execFileSync(process.execPath, [process.argv[1]], {stdio: 'inherit'})`

	tests := []struct {
		name       string
		args       []string
		env        []string
		wantStatus int    // 0: no answer
		wantError  string // the client's error code, or a substring of its stderr when it did not run
	}{
		{name: "trusted CA", args: []string{fetchProfile}, env: env, wantStatus: 200},
		{name: "child process", args: []string{"-e", child, fetchProfile}, env: env, wantStatus: 200},
		// The server sends its certificate without the CA's, so a client
		// that does not trust the CA cannot build a chain past it.
		{name: "CA not trusted", args: []string{fetchProfile}, env: withoutEnv(env, "NODE_EXTRA_CA_CERTS"),
			wantError: "UNABLE_TO_VERIFY_LEAF_SIGNATURE"},
		{name: "no AMO_CONNECT", args: []string{fetchProfile}, env: withoutEnv(env, "AMO_CONNECT"),
			wantError: "amo-connect.cjs: AMO_CONNECT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), nodeClientTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", tt.args...)
			cmd.Env = tt.env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			runErr := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("node %v did not finish within %v", tt.args, nodeClientTimeout)
			}
			var got struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
				Error  string `json:"error"`
			}
			if stdout.Len() > 0 {
				if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
					t.Fatalf("client printed %q: %v", stdout.String(), err)
				}
			}
			switch {
			case tt.wantStatus != 0:
				var profile struct {
					ID  int64  `json:"id"`
					URL string `json:"url"`
				}
				_ = json.Unmarshal([]byte(got.Body), &profile)
				if runErr != nil || got.Status != tt.wantStatus || profile.ID != testUserID ||
					profile.URL != "https://addons.mozilla.org/en-US/firefox/user/543210/" {
					t.Errorf("got %v %+v, stderr %s; want %d with the profile of user %d at https://addons.mozilla.org",
						runErr, got, stderr.String(), tt.wantStatus, testUserID)
				}
			case got.Error != "":
				if runErr == nil || got.Error != tt.wantError {
					t.Errorf("client error %q (exit %v), want %q", got.Error, runErr, tt.wantError)
				}
			default:
				if runErr == nil || !strings.Contains(stderr.String(), tt.wantError) {
					t.Errorf("exit %v, stdout %q, stderr %q; want a failure mentioning %q", runErr, stdout.String(), stderr.String(), tt.wantError)
				}
			}
		})
	}
}
