package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// amoHost is the host that publishing clients hard-code (docs/AMO.md):
// the server certificate always names it, with loopback.
const amoHost = "addons.mozilla.org"

// defaultTLSHosts are the names every server certificate carries: AMO's
// host for clients that cannot be pointed elsewhere, and loopback for
// those that can.
var defaultTLSHosts = []string{amoHost, "localhost", "127.0.0.1", "::1"}

// caDirName is the local CA's directory inside the data directory.
const caDirName = "tls"

// tlsConfig is serve's HTTPS configuration.
type tlsConfig struct {
	// tls serves HTTPS instead of HTTP on --addr.
	tls bool
	// tlsAddr, when set, serves HTTPS on this address beside HTTP on
	// --addr.
	tlsAddr string
	// tlsHosts are the names and IP addresses, comma-separated, that the
	// certificate carries besides defaultTLSHosts.
	tlsHosts string
}

// addTLSFlags defines the flags of c on fs.
func (c *tlsConfig) addTLSFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.tls, "tls", false, "serve HTTPS on --addr, with a certificate for addons.mozilla.org and loopback from a local CA kept in --data-dir/tls (without --data-dir: $XDG_DATA_HOME/amojwt/tls, or ~/.local/share/amojwt/tls); the start prints how to trust it")
	fs.StringVar(&c.tlsAddr, "tls-addr", "", "serve HTTPS on this address too (HTTP stays on --addr), with the certificate of --tls")
	fs.Func("tls-host", "with --tls or --tls-addr: more `hosts` (DNS names or IP addresses) for the certificate, comma-separated or the flag repeated", c.addTLSHosts)
}

// tlsEnabled reports whether serve speaks HTTPS anywhere.
func (c *tlsConfig) tlsEnabled() bool { return c.tls || c.tlsAddr != "" }

// checkTLS reports the first invalid HTTPS setting of c.
func (c *tlsConfig) checkTLS() error {
	switch {
	case c.tls && c.tlsAddr != "":
		return usageError{"serve: give --tls (HTTPS on --addr) or --tls-addr (HTTPS there, HTTP on --addr), not both"}
	case c.tlsHosts != "" && !c.tlsEnabled():
		return usageError{"serve: --tls-host needs --tls or --tls-addr"}
	}
	return nil
}

// addTLSHosts adds the comma-separated names of s to c.tlsHosts (the
// flag may be repeated, and one environment variable, AMOJWT_TLS_HOST,
// can carry several).
func (c *tlsConfig) addTLSHosts(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if net.ParseIP(name) == nil && !validDNSName(name) {
			return fmt.Errorf("%q is neither an IP address nor a DNS name", name)
		}
		if c.tlsHosts != "" {
			c.tlsHosts += ","
		}
		c.tlsHosts += name
	}
	return nil
}

// validDNSName reports whether name is a host name a certificate may
// carry (RFC 1123 §2.1 labels, a leading "*." wildcard label allowed,
// RFC 6125 §6.4.3).
func validDNSName(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

// caDir is where the local CA of c lives: <data dir>/tls with --data-dir;
// without it a per-user directory ($XDG_DATA_HOME/amojwt/tls, by default
// ~/.local/share/amojwt/tls, as the XDG Base Directory specification
// puts user data), so that a trust set up once outlives a mock whose
// state is thrown away at each run. getenv reads the environment.
func caDir(dataDir string, getenv func(string) string) (string, error) {
	if dataDir != "" {
		return filepath.Join(dataDir, caDirName), nil
	}
	// The specification says to ignore a relative XDG_DATA_HOME.
	if x := getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "amojwt", caDirName), nil
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "share", "amojwt", caDirName), nil
	}
	return "", errors.New("--tls: no --data-dir, XDG_DATA_HOME or HOME to keep the local CA in: give --data-dir")
}

// listen opens what serve accepts connections on: TCP on --addr (TLS
// with --tls) and, with --tls-addr, TLS there as well. With TLS it opens
// the local CA, issues the server certificate and prints to w how to
// trust it and reach the server.
func listen(c *serveConfig, w io.Writer, logger *slog.Logger) (_ net.Listener, err error) {
	ln, err := net.Listen("tcp", c.addr)
	if !c.tlsEnabled() || err != nil {
		return ln, err
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	dir, err := caDir(c.dataDir, os.Getenv)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca, err := openCA(dir, now)
	if err != nil {
		return nil, fmt.Errorf("--tls: %w", err)
	}
	hosts := slices.Clone(defaultTLSHosts)
	if c.tlsHosts != "" {
		hosts = append(hosts, strings.Split(c.tlsHosts, ",")...)
	}
	cert, err := ca.issue(hosts, now)
	if err != nil {
		return nil, fmt.Errorf("--tls: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		// http.Server.Serve answers HTTP/2 on TLS connections that
		// negotiate it; the listener must offer it.
		NextProtos: []string{"h2", "http/1.1"},
	}
	httpsLn := ln
	if c.tlsAddr != "" {
		if httpsLn, err = net.Listen("tcp", c.tlsAddr); err != nil {
			return nil, err
		}
	}
	httpsAddr := httpsLn.Addr().String()
	logger.Info("amojwt serving HTTPS", "addr", httpsAddr, "ca", ca.certPath(), "ca_created", ca.created,
		"names", strings.Join(hosts, ","), "not_after", cert.Leaf.NotAfter)
	printTLS(w, ca, dialAddr(httpsAddr))
	if c.tlsAddr == "" {
		return tls.NewListener(ln, cfg), nil
	}
	return newMultiListener(ln, tls.NewListener(httpsLn, cfg)), nil
}

// printTLS tells the user of --tls how to trust the local CA and how to
// send clients that hard-code https://addons.mozilla.org to addr. It
// only prints: amojwt never changes the machine's trust or hosts file.
func printTLS(w io.Writer, ca *localCA, addr string) {
	made := "made now"
	if !ca.created {
		made = "made " + ca.cert.NotBefore.Add(backdate).UTC().Format(time.DateOnly)
	}
	_, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(w, `amojwt: serving HTTPS on https://%[1]s for %[2]s, localhost and loopback, with a certificate from a local CA (development only)
  CA certificate: %[3]s (%[4]s, valid until %[5]s; its key is beside it: keep it private)
Trust the CA:
  Node (read at its start; child processes inherit it):  export NODE_EXTRA_CA_CERTS=%[7]s
  Debian system store (as root; amojwt does not do it):  cp %[7]s /usr/local/share/ca-certificates/amojwt-local-ca.crt && update-ca-certificates
    (Node ignores the system store unless run with --use-openssl-ca)
  curl:  curl --cacert %[7]s --connect-to %[2]s:443:%[1]s https://%[2]s/api/v5/accounts/profile/
Send clients that hard-code https://%[2]s here, either:
  - Node clients, no change to the machine: preload integration/clients/amo-connect.cjs from amojwt's source:
      AMO_CONNECT=%[1]s NODE_EXTRA_CA_CERTS=%[7]s NODE_OPTIONS="--require /path/to/amo-connect.cjs" <client>
  - any client: the hosts-file line "127.0.0.1 %[2]s" (in /etc/hosts). Clients then dial port 443, not %[6]s:
      serve on :443 (needs root or CAP_NET_BIND_SERVICE) or redirect 443 to %[6]s, e.g. as root:
      iptables -t nat -A OUTPUT -o lo -p tcp --dport 443 -j REDIRECT --to-ports %[6]s
`, addr, amoHost, ca.certPath(), made, ca.cert.NotAfter.UTC().Format(time.DateOnly), port, shellQuote(ca.certPath()))
}

// multiListener accepts connections from several listeners, so that one
// http.Server serves HTTP and HTTPS side by side and its Shutdown closes
// both.
type multiListener struct {
	ls    []net.Listener
	conns chan acceptResult
	done  chan struct{}
	once  sync.Once
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newMultiListener(ls ...net.Listener) *multiListener {
	m := &multiListener{ls: ls, conns: make(chan acceptResult), done: make(chan struct{})}
	for _, l := range ls {
		go m.accept(l)
	}
	return m
}

// accept hands l's connections and errors to Accept until m is closed or
// l fails for good.
func (m *multiListener) accept(l net.Listener) {
	for {
		conn, err := l.Accept()
		select {
		case m.conns <- acceptResult{conn, err}:
		case <-m.done:
			if conn != nil {
				conn.Close()
			}
			return
		}
		// http.Server retries an Accept that failed with a temporary
		// error (running out of file descriptors), as this loop does;
		// any other error ends Serve, and this loop.
		var ne interface{ Temporary() bool }
		if err != nil && !(errors.As(err, &ne) && ne.Temporary()) {
			return
		}
	}
}

// Accept returns the next connection from any of the listeners.
func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case r := <-m.conns:
		return r.conn, r.err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close closes every listener.
func (m *multiListener) Close() error {
	var errs []error
	m.once.Do(func() {
		close(m.done)
		for _, l := range m.ls {
			errs = append(errs, l.Close())
		}
	})
	return errors.Join(errs...)
}

// Addr is the address of the first listener (--addr).
func (m *multiListener) Addr() net.Addr { return m.ls[0].Addr() }

// demoCurl is the curl command and the base URL the --demo banner shows
// for a server accepting on addr: with --tls, curl trusts the local CA
// (the certificate names 127.0.0.1 and ::1).
func (c *serveConfig) demoCurl(addr string) (curl, base string) {
	if !c.tls {
		return "curl", "http://" + dialAddr(addr)
	}
	dir, _ := caDir(c.dataDir, os.Getenv) // listen has used it
	return "curl --cacert " + shellQuote(filepath.Join(dir, caCertFile)), "https://" + dialAddr(addr)
}

// shellQuote returns s as one word of a POSIX shell command line, for the
// commands serve prints.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !strings.ContainsRune("@%+=:,./_-", r) && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			safe = false
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
