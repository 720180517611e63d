package mockamo_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/vectors"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/verifier"
)

// wantChallenge is the WWW-Authenticate of every 401 with the default realm
// (SPEC §3).
const wantChallenge = `JWT realm="Access to addons.mozilla.org external API"`

// TestConformance sends every vector of the testdata vectors files
// (vectors.Files; format: testdata/README.md) as the Authorization header
// of GET /api/v5/accounts/profile/ to a mock AMO server on loopback, one
// server per vector, and checks the response on the wire: the status, the
// exact body {"detail":"..."} with Content-Type application/json,
// WWW-Authenticate on a 401, Retry-After on a 503 (SPEC §2, §3, §7), or the
// caller's profile on a 200 (SPEC §8).
func TestConformance(t *testing.T) {
	t.Parallel()
	vectors.RunAll(t, "../testdata", runSuite)
}

// runSuite runs the vectors of one file.
func runSuite(t *testing.T, suite *vectors.Suite) {
	static, err := suite.StaticKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range suite.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			t.Logf("SPEC %s", c.Spec)
			if c.HTTPSkip != "" {
				t.Skipf("not sendable over HTTP: %s", c.HTTPSkip)
			}
			var keys verifier.KeyStore = static
			if c.KeyStore == "map" {
				keys = suite.MapKeys()
			}
			var clock vectors.Clock
			v, err := c.NewVerifier(keys, &clock)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(mockamo.New(v, mockamo.WithClock(clock.Now)))
			t.Cleanup(srv.Close)
			for i, u := range c.Uses {
				clock.Set(u.Now)
				checkResponse(t, i+1, srv, u)
			}
		})
	}
}

// checkResponse sends one use and compares the response with u.HTTPExpect.
func checkResponse(t *testing.T, use int, srv *httptest.Server, u vectors.Use) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v5/accounts/profile/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Authorization) > 0 {
		// Set the slice itself: several values travel as several header
		// lines (SPEC §2.5).
		req.Header["Authorization"] = u.Authorization
	}
	var resp *http.Response
	if slices.ContainsFunc(u.Authorization, hasLineBreak) {
		resp, err = sendRaw(srv, req)
	} else {
		resp, err = srv.Client().Do(req)
	}
	if err != nil {
		t.Fatalf("use %d: %v", use, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("use %d: reading the body: %v", use, err)
	}
	want := u.HTTPExpect
	if resp.StatusCode != want.Status {
		t.Errorf("use %d: status %d %s, want %d (%s %q)", use, resp.StatusCode, body, want.Status, want.Reason, want.Detail)
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("use %d: Content-Type %q, want application/json", use, ct)
	}
	challenge := resp.Header.Values("WWW-Authenticate")
	retryAfter := resp.Header.Values("Retry-After")
	switch want.Status {
	case http.StatusOK:
		var profile struct {
			ID *int64 `json:"id"`
		}
		if err := json.Unmarshal(body, &profile); err != nil || profile.ID == nil || *profile.ID != want.UserID {
			t.Errorf("use %d: body %s (%v), want a profile with id %d", use, body, err, want.UserID)
		}
		if len(challenge) != 0 || len(retryAfter) != 0 {
			t.Errorf("use %d: 200 with WWW-Authenticate %q, Retry-After %q", use, challenge, retryAfter)
		}
		if got := resp.Header.Values(mockamo.TokenReusedHeader); (len(got) == 1 && got[0] == "true") != want.Reused || len(got) > 1 {
			t.Errorf("use %d: %s %q, want it only for a reused token (reused %v)", use, mockamo.TokenReusedHeader, got, want.Reused)
		}
		return
	case http.StatusUnauthorized:
		if len(challenge) != 1 || challenge[0] != wantChallenge {
			t.Errorf("use %d: WWW-Authenticate %q, want [%q]", use, challenge, wantChallenge)
		}
	case http.StatusServiceUnavailable:
		if len(retryAfter) != 1 || retryAfter[0] != "1" {
			t.Errorf("use %d: Retry-After %q, want [\"1\"]", use, retryAfter)
		}
	}
	if wantBody := detailBody(t, want.Detail); !bytes.Equal(body, wantBody) {
		t.Errorf("use %d: body %s, want %s", use, body, wantBody)
	}
}

func hasLineBreak(v string) bool { return strings.ContainsAny(v, "\r\n") }

// sendRaw writes req on a new connection to srv byte for byte, header
// values included: the Go client refuses CR and LF in a value (and
// Header.Write turns them into spaces), but an attacker's client does not,
// so the server must see what net/http makes of them (a CRLF followed by a
// space or tab folds into the value; one followed by text starts a header
// line).
func sendRaw(srv *httptest.Server, req *http.Request) (*http.Response, error) {
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.Host)
	for _, v := range req.Header["Authorization"] {
		fmt.Fprintf(&b, "Authorization: %s\r\n", v)
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, err
	}
	// The body is read before conn closes.
	body, err := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, err
}

// detailBody is DRF's compact JSON error body for detail.
func detailBody(t *testing.T, detail string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Detail string `json:"detail"`
	}{detail}); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
