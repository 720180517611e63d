package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeTLSFlags: the HTTPS flags and their environment variables reach
// the configuration, and check refuses their bad combinations.
func TestServeTLSFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    tlsConfig
		wantErr string // substring of the parse or check error; "" for none
	}{
		{name: "--tls", args: []string{"--demo", "--tls"}, want: tlsConfig{tls: true}},
		{name: "--tls-addr, hosts repeated and comma-separated", args: []string{"--demo", "--tls-addr", ":8443",
			"--tls-host", "Mock.Example", "--tls-host", "10.0.0.1, *.test.example"},
			want: tlsConfig{tlsAddr: ":8443", tlsHosts: "mock.example,10.0.0.1,*.test.example"}},
		{name: "environment", env: map[string]string{"AMOJWT_DEMO": "1", "AMOJWT_TLS": "true", "AMOJWT_TLS_HOST": "a.example,::2"},
			want: tlsConfig{tls: true, tlsHosts: "a.example,::2"}},
		{name: "--tls and --tls-addr", args: []string{"--demo", "--tls", "--tls-addr", ":8443"}, wantErr: "not both"},
		{name: "--tls-host without TLS", args: []string{"--demo", "--tls-host", "a.example"}, wantErr: "--tls-host needs --tls"},
		{name: "empty host", args: []string{"--demo", "--tls", "--tls-host", "a.example,"}, wantErr: `"" is neither`},
		{name: "host with a space", args: []string{"--demo", "--tls", "--tls-host", "a b"}, wantErr: "neither an IP address nor a DNS name"},
		{name: "label ending in a hyphen", args: []string{"--demo", "--tls", "--tls-host", "a-.example"}, wantErr: "neither"},
		{name: "wildcard inside", args: []string{"--demo", "--tls", "--tls-host", "a.*.example"}, wantErr: "neither"},
		{name: "URL", args: []string{"--demo", "--tls", "--tls-host", "https://a.example"}, wantErr: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var got *serveConfig
			cmd := newServeCommand(func(_ context.Context, c *serveConfig) error {
				got = c
				return c.check()
			})
			err := cmd.ParseAndRun(context.Background(), tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.tlsConfig != tt.want {
				t.Errorf("config %+v, want %+v", got.tlsConfig, tt.want)
			}
		})
	}
}

// TestCADir: the CA lives in the data directory, else in the user's XDG
// data directory, else in ~/.local/share.
func TestCADir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dataDir string
		env     map[string]string
		want    string // "" for an error
	}{
		{name: "data dir", dataDir: "/srv/amo", env: map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, want: "/srv/amo/tls"},
		{name: "relative data dir", dataDir: "amo", want: "amo/tls"},
		{name: "XDG_DATA_HOME", env: map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, want: "/x/amojwt/tls"},
		{name: "relative XDG_DATA_HOME is ignored", env: map[string]string{"XDG_DATA_HOME": "x", "HOME": "/h"}, want: "/h/.local/share/amojwt/tls"},
		{name: "HOME", env: map[string]string{"HOME": "/h"}, want: "/h/.local/share/amojwt/tls"},
		{name: "nowhere", env: map[string]string{"HOME": "h"}},
	}
	for _, tt := range tests {
		got, err := caDir(tt.dataDir, func(k string) string { return tt.env[k] })
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), "give --data-dir") {
				t.Errorf("%s: %q, %v; want an error asking for --data-dir", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != filepath.FromSlash(tt.want) {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// tlsClient returns a client that trusts only the CA certificate in
// caFile and sends every request to addr with SNI addons.mozilla.org, as
// a client of https://addons.mozilla.org does once the name leads to addr.
// With h2 it negotiates HTTP/2 when the server offers it.
func tlsClient(t *testing.T, caFile, addr string, h2 bool) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(caFile); err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA certificate %s: %v", caFile, err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: amoHost},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: h2,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// profileOverTLS gets the demo user's profile from https://addons.mozilla.org
// through client and returns the response and the profile's URL.
func profileOverTLS(t *testing.T, client *http.Client) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+amoHost+"/api/v5/accounts/profile/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "JWT "+token(t, ""))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var profile struct {
		ID  int64  `json:"id"`
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&profile); err != nil || profile.ID != 543210 {
		t.Errorf("profile over TLS: %d %+v %v", resp.StatusCode, profile, err)
	}
	return resp, profile.URL
}

// TestServeTLS serves the mock AMO over HTTPS on --addr: a client that
// trusts only the local CA and asks for addons.mozilla.org at the
// server's loopback port gets the profile over HTTP/2 and HTTP/1.1, with
// absolute URLs on https://addons.mozilla.org; a client that does not
// trust the CA is refused. The CA's key is private to its owner, and a
// restart keeps the CA, so a trust set up once keeps working.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "tls", caCertFile)
	s := startServer(t, "--demo", "--mock-amo", "--tls", "--data-dir", dir)
	addr := strings.TrimPrefix(s.url, "http://")

	out := s.stdout.String()
	for _, want := range []string{
		"serving HTTPS on https://" + addr + " for addons.mozilla.org",
		"CA certificate: " + caFile + " (made now",
		"export NODE_EXTRA_CA_CERTS=" + caFile,
		"cp " + caFile + " /usr/local/share/ca-certificates/amojwt-local-ca.crt && update-ca-certificates",
		`"127.0.0.1 addons.mozilla.org"`,
		"AMO_CONNECT=" + addr + " NODE_EXTRA_CA_CERTS=" + caFile,
		// The --demo banner's curl lines speak HTTPS and trust the CA.
		"curl --cacert " + caFile + ` -s -w '\n' -H "Authorization: JWT $TOKEN" https://` + addr + "/api/v5/accounts/profile/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}

	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{
			filepath.Join(dir, "tls"):             0o700 | os.ModeDir,
			filepath.Join(dir, "tls", caKeyFile):  0o600,
			filepath.Join(dir, "tls", caCertFile): 0o644,
		} {
			if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
				t.Errorf("%s: %v %v, want mode %v", path, fi.Mode(), err, want)
			}
		}
	}

	h2 := tlsClient(t, caFile, addr, true)
	resp, url := profileOverTLS(t, h2)
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || url != "https://addons.mozilla.org/en-US/firefox/user/543210/" {
		t.Errorf("HTTP/2: %d %s, profile URL %q", resp.StatusCode, resp.Proto, url)
	}
	resp, _ = profileOverTLS(t, tlsClient(t, caFile, addr, false))
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1: %d %s", resp.StatusCode, resp.Proto)
	}

	// The upload's status URL, which clients poll, leads back over TLS.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("channel", "unlisted")
	part, _ := mw.CreateFormFile("upload", "a.zip")
	_, _ = part.Write([]byte("not a zip"))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, "https://"+amoHost+"/api/v5/addons/upload/", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "JWT "+token(t, ""))
	if resp, err := h2.Do(req); err != nil {
		t.Error(err)
	} else {
		var upload struct{ UUID, URL string }
		err := json.NewDecoder(resp.Body).Decode(&upload)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated ||
			upload.URL != "https://addons.mozilla.org/api/v5/addons/upload/"+upload.UUID+"/" {
			t.Errorf("upload: %d %+v %v", resp.StatusCode, upload, err)
		}
	}

	// Trusting the system's CAs but not this one fails the handshake.
	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	_, err := untrusting.Get("https://" + amoHost + "/healthz")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("client without the CA: %v, want an unknown authority error", err)
	}

	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, "--demo", "--mock-amo", "--tls", "--data-dir", dir)
	again, err := os.ReadFile(caFile)
	if err != nil || !bytes.Equal(again, caPEM) {
		t.Errorf("restart changed the CA certificate (%v)", err)
	}
	if out := s.stdout.String(); !strings.Contains(out, "CA certificate: "+caFile+" (made "+time.Now().UTC().Format(time.DateOnly)) {
		t.Errorf("restart banner does not name the CA's date:\n%s", out)
	}
	// A client set up before the restart trusts the new server certificate.
	resp, _ = profileOverTLS(t, tlsClient(t, caFile, strings.TrimPrefix(s.url, "http://"), true))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after a restart: %d", resp.StatusCode)
	}
}

// TestServeTLSAddr serves HTTP on --addr and HTTPS on --tls-addr side by
// side, both answered by one server that stops as a whole.
func TestServeTLSAddr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, "--demo", "--tls-addr", "127.0.0.1:0", "--tls-host", "mock.example", "--data-dir", dir)
	m := regexp.MustCompile(`serving HTTPS on https://(\S+) for`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no HTTPS address in the banner:\n%s", s.stdout)
	}
	httpsAddr := m[1]
	if httpsAddr == strings.TrimPrefix(s.url, "http://") {
		t.Fatalf("HTTPS on the HTTP address %s", httpsAddr)
	}
	if resp, body := s.get(t, "GET", "/api/v5/accounts/profile/", "JWT "+token(t, "")); resp.StatusCode != 200 ||
		!strings.Contains(body, `"url":"`+s.url+`/en-US/firefox/user/543210/"`) {
		t.Errorf("HTTP: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(s.stdout.String(), "curl -s -w '\\n' -H \"Authorization: JWT $TOKEN\" "+s.url+"/api/v5/accounts/profile/") {
		t.Errorf("the --demo banner's curl lines should stay on HTTP:\n%s", s.stdout)
	}
	client := tlsClient(t, filepath.Join(dir, "tls", caCertFile), httpsAddr, true)
	if resp, _ := profileOverTLS(t, client); resp.StatusCode != 200 {
		t.Errorf("HTTPS: %d", resp.StatusCode)
	}
	// The certificate carries the --tls-host name.
	conf := client.Transport.(*http.Transport).TLSClientConfig.Clone()
	conf.ServerName = "mock.example"
	conn, err := tls.Dial("tcp", httpsAddr, conf)
	if err != nil {
		t.Errorf("--tls-host name: %v", err)
	} else {
		conn.Close()
	}

	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{strings.TrimPrefix(s.url, "http://"), httpsAddr} {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts after the stop", a)
		}
	}
}

// TestOpenCA: the CA is made once and kept; concurrent starts agree on
// one; what could be a CA someone trusts is never replaced, and a key
// other users may read is refused.
func TestOpenCA(t *testing.T) {
	t.Parallel()
	now := time.Now()

	t.Run("concurrent starts make one CA", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "data", "tls")
		const n = 8
		certs := make([][]byte, n)
		created := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ca, err := openCA(dir, now)
				if err != nil {
					t.Error(err)
					return
				}
				certs[i], created[i] = ca.cert.Raw, ca.created
			})
		}
		wg.Wait()
		made := 0
		for i := range n {
			if !bytes.Equal(certs[i], certs[0]) {
				t.Errorf("start %d loaded another CA", i)
			}
			if created[i] {
				made++
			}
		}
		if made != 1 {
			t.Errorf("%d starts report making the CA, want 1", made)
		}
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 1 {
			t.Errorf("data dir holds %d entries, want only tls/ (no temporary directory left)", len(entries))
		}
	})

	t.Run("server certificate", func(t *testing.T) {
		t.Parallel()
		// A CA with a day left: the server certificate ends with it.
		ca, err := openCA(filepath.Join(t.TempDir(), "tls"), now.Add(-caLifetime+24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.issue([]string{amoHost, "127.0.0.1", "::1", "*.mock.example"}, now)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca.cert)
		for _, name := range []string{amoHost, "127.0.0.1", "::1", "a.mock.example"} {
			if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "mozilla.org", Roots: roots, CurrentTime: now}); err == nil {
			t.Error("the certificate is valid for mozilla.org")
		}
		if !cert.Leaf.NotAfter.Equal(ca.cert.NotAfter) || cert.Leaf.IsCA {
			t.Errorf("NotAfter %v (CA's %v), IsCA %v", cert.Leaf.NotAfter, ca.cert.NotAfter, cert.Leaf.IsCA)
		}
	})

	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // dir holds a CA made now
		wantErr string
	}{
		{name: "key open to others", prepare: func(t *testing.T, dir string) {
			if runtime.GOOS == "windows" {
				t.Skip("no mode bits")
			}
			if err := os.Chmod(filepath.Join(dir, caKeyFile), 0o640); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "open to other users (mode 0640): chmod 600 it"},
		{name: "certificate without its key", prepare: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, caKeyFile)); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "remove " + "DIR" + " to make a new CA"},
		{name: "key without its certificate", prepare: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, caCertFile)); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "without ca.pem? remove it"},
		{name: "certificate of another key", prepare: func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "tls")
			if _, err := openCA(other, now); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join(other, caCertFile), filepath.Join(dir, caCertFile))
		}, wantErr: "private key does not match public key"},
		{name: "expired", prepare: func(t *testing.T, dir string) {
			old := filepath.Join(t.TempDir(), "tls")
			if _, err := openCA(old, now.Add(-caLifetime-time.Minute)); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join(old, caCertFile), filepath.Join(dir, caCertFile))
			copyFile(t, filepath.Join(old, caKeyFile), filepath.Join(dir, caKeyFile))
		}, wantErr: "expired on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "tls")
			if _, err := openCA(dir, now); err != nil {
				t.Fatal(err)
			}
			tt.prepare(t, dir)
			before := snapshot(t, dir)
			_, err := openCA(dir, now)
			if want := strings.ReplaceAll(tt.wantErr, "DIR", dir); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want one mentioning %q", err, want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("the CA directory changed:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

// copyFile copies src over dst, keeping dst's mode.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists the files of dir with their contents' length and first
// bytes, to tell whether anything was rewritten.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name() + " " + string(data) + "\n")
	}
	return b.String()
}

// TestShellQuote: the paths serve prints paste into a shell as one word.
func TestShellQuote(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain path", "/home/u/.local/share/amojwt/tls/ca.pem", "/home/u/.local/share/amojwt/tls/ca.pem"},
		{"space", "/tmp/my dir/ca.pem", "'/tmp/my dir/ca.pem'"},
		{"quote", "/tmp/it's/ca.pem", `'/tmp/it'\''s/ca.pem'`},
		{"dollar", "/tmp/$HOME", "'/tmp/$HOME'"},
		{"empty", "", "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("%s: shellQuote(%q) = %s, want %s", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestMultiListenerClose: after Close, Accept answers net.ErrClosed and a
// connection that arrives meanwhile is closed, not leaked.
func TestMultiListenerClose(t *testing.T) {
	t.Parallel()
	var ls []net.Listener
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	m := newMultiListener(ls...)
	for _, l := range ls {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got, err := m.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if got.LocalAddr().String() != l.Addr().String() {
			t.Errorf("accepted on %v, want %v", got.LocalAddr(), l.Addr())
		}
		got.Close()
	}
	if m.Addr().String() != ls[0].Addr().String() {
		t.Errorf("Addr %v, want the first listener's %v", m.Addr(), ls[0].Addr())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ls[1].Addr().String(), time.Second); err == nil {
		t.Error("a listener still accepts after Close")
	}
}
