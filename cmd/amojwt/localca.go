package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"time"
)

// The local CA's files, in its directory (<data dir>/tls). The certificate
// is what users trust; the key never leaves the directory.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

const (
	// caLifetime is long so that a trust set up once keeps working: the
	// CA exists for one developer's or CI runner's machine.
	caLifetime = 10 * 365 * 24 * time.Hour
	// leafLifetime is the longest validity the CA/Browser Forum's Baseline
	// Requirements allow a server certificate (398 days, §6.3.2), so that
	// browsers accept it as well as Node and Go clients.
	leafLifetime = 397 * 24 * time.Hour
	// backdate moves NotBefore into the past, for a client (a CI
	// container, a VM) whose clock runs behind this machine's.
	backdate = time.Hour
)

// localCA is the certificate authority `serve --tls` issues its server
// certificate from. It lives in a directory of its own, which appears
// whole (certificate and key) or not at all. It is built on crypto/x509:
// go.step.sm/crypto's minica makes CAs that live 24 hours and are not
// kept, where this one must outlive restarts, and its x509util would
// bring some twenty modules (templates, a second JOSE library, SSH) for
// two certificate templates.
type localCA struct {
	dir     string
	cert    *x509.Certificate
	key     crypto.Signer
	created bool // this call made it
}

// certPath is the file of the CA's certificate, the one clients trust.
func (ca *localCA) certPath() string { return filepath.Join(ca.dir, caCertFile) }

// openCA loads the CA kept in dir, or makes one there if dir holds none.
// It refuses a CA whose key other users may read (a key that signs
// certificates for addons.mozilla.org on a machine that trusts it), an
// expired CA, and a directory holding a key without its certificate: it
// never replaces a CA someone may trust.
func openCA(dir string, now time.Time) (*localCA, error) {
	created := false
	certPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if errors.Is(err, fs.ErrNotExist) {
		if created, err = createCA(dir, now); err != nil {
			return nil, err
		}
		// Another serve may have made it first: read what is there.
		certPEM, err = os.ReadFile(filepath.Join(dir, caCertFile))
	}
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	keyPath := filepath.Join(dir, caKeyFile)
	if err := checkKeyMode(keyPath); err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w (remove %s to make a new CA, then trust its %s again)", err, dir, caCertFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	switch {
	case !ok:
		return nil, fmt.Errorf("local CA in %s: the key cannot sign", dir)
	case !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, fmt.Errorf("local CA in %s: %s is not a CA certificate", dir, caCertFile)
	case !now.Before(cert.NotAfter):
		return nil, fmt.Errorf("local CA in %s expired on %s: remove %s to make a new one, then trust its %s again",
			dir, cert.NotAfter.UTC().Format(time.DateOnly), dir, caCertFile)
	}
	return &localCA{dir: dir, cert: cert, key: key, created: created}, nil
}

// checkKeyMode refuses a key file that users other than its owner may
// access, as ssh does. Windows has no such mode bits to check.
func checkKeyMode(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("local CA: %w (remove %s to make a new CA, then trust its %s again)", err, filepath.Dir(path), caCertFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("local CA: %s is open to other users (mode %#o): chmod 600 it", path, perm)
	}
	return nil
}

// createCA makes a CA in dir: it writes the key (mode 0600) and the
// certificate into a new private directory beside dir and renames that
// to dir, so that a crash or a second serve starting at the same time
// never leaves a key without its certificate or mixes two CAs. It
// reports false when dir appeared meanwhile (the other CA is kept).
func createCA(dir string, now time.Time) (bool, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return false, fmt.Errorf("local CA: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tls-*") // mode 0700
	if err != nil {
		return false, fmt.Errorf("local CA: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, fmt.Errorf("local CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return false, fmt.Errorf("local CA: %w", err)
	}
	template := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "amojwt local CA",
			Organization:       []string{"amojwt local CA (development only)"},
			OrganizationalUnit: []string{owner()},
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// It signs server certificates only, never another CA.
		MaxPathLenZero: true,
	}
	certDER, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return false, fmt.Errorf("local CA: %w", err)
	}
	if err := writeNewFile(filepath.Join(tmp, caKeyFile), pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return false, err
	}
	if err := writeNewFile(filepath.Join(tmp, caCertFile), pemBlock("CERTIFICATE", certDER), 0o644); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, caCertFile)); serr == nil {
			return false, nil
		}
		return false, fmt.Errorf("local CA: %w (is %s a directory without %s? remove it to make a new CA)", err, dir, caCertFile)
	}
	syncDir(parent)
	return true, nil
}

// issue makes a server certificate for hosts (DNS names and IP
// addresses) with a fresh key, signed by ca, valid from now for
// leafLifetime or until the CA expires, whichever is first.
func (ca *localCA) issue(hosts []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	notAfter := now.Add(leafLifetime)
	if ca.cert.NotAfter.Before(notAfter) {
		notAfter = ca.cert.NotAfter
	}
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"amojwt (development only)"}},
		NotBefore:   now.Add(-backdate),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// owner names this CA's user and machine in its subject, so that a
// system store holding several amojwt CAs tells them apart.
func owner() string {
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	return name + "@" + host
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeNewFile creates path (it must not exist) with mode perm and data,
// synced to disk.
func writeNewFile(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	return nil
}

// syncDir flushes a rename in dir to disk where the system supports it;
// the CA is whole either way, only its survival of a power cut is at
// stake.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
