package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
)

// config is a checked command line.
type config struct {
	url                     string // base URL + path
	path                    string
	key, secret             string
	duration                time.Duration
	connections             int
	replayRatio, forgeRatio float64
	noJTI, anonymous        bool
	slowClients             int
}

// tokenLifetime is exp - iat of every token sent, as in the AMO docs' example.
const tokenLifetime = 60

// requestTimeout bounds one request; a run waits for the requests in flight
// at its end at most this long.
const requestTimeout = 10 * time.Second

// kind is what a request carries.
type kind int

const (
	kindValid kind = iota
	kindReplay
	kindForged
	kindCount
)

// loopbackURL returns the scheme and host of raw, an http(s) URL without a
// path, or an error unless its host is a loopback IP address or localhost.
// The dialer checks the address again when it connects (see loopbackDialer).
func loopbackURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--url %q: want http:// or https://", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("--url %q: give the scheme and host only; --path sets the path", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return "", fmt.Errorf("--url %q: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// loopbackDialer connects only to loopback addresses, whatever a host name
// resolves to.
func loopbackDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tcp, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		conn.Close()
		return nil, fmt.Errorf("%s resolved to %v, not a loopback address", addr, conn.RemoteAddr())
	}
	return conn, nil
}

// generate sends requests over c.connections connections until c.duration
// has passed or ctx is done, and returns what happened.
func generate(ctx context.Context, c *config) (*report, error) {
	transport := &http.Transport{
		DialContext:         loopbackDialer,
		MaxIdleConns:        c.connections,
		MaxIdleConnsPerHost: c.connections,
		MaxConnsPerHost:     c.connections,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: requestTimeout}

	run, err := newRunID()
	if err != nil {
		return nil, err
	}
	issuer, err := json.Marshal(c.key)
	if err != nil {
		return nil, err
	}
	slow, err := openSlowClients(ctx, c)
	if err != nil {
		return nil, err
	}
	shared := &accepted{}
	results := make([]*report, c.connections)
	start := time.Now()
	deadline := start.Add(c.duration)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = newReport()
		w := &worker{c: c, client: client, issuer: string(issuer), run: run, id: i, accepted: shared,
			rnd: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), r: results[i]}
		wg.Go(func() { w.loop(ctx, deadline) })
	}
	wg.Wait()
	total := newReport()
	total.elapsed = time.Since(start)
	total.slow = slow.finish()
	for _, r := range results {
		total.merge(r)
	}
	return total, nil
}

// newRunID is a random tag in every jti of a run, so that runs against one
// server never share a nonce.
func newRunID() (string, error) {
	b := make([]byte, 6)
	if _, err := crand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// accepted holds recent tokens the server accepted, for replays by any
// connection.
type accepted struct {
	mu     sync.Mutex
	tokens [1024]string
	n      int
}

func (a *accepted) add(token string) {
	a.mu.Lock()
	a.tokens[a.n%len(a.tokens)] = token
	a.n++
	a.mu.Unlock()
}

// pick returns one of the recent tokens, or "" when there is none yet.
func (a *accepted) pick(rnd *rand.Rand) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		return ""
	}
	return a.tokens[rnd.IntN(min(a.n, len(a.tokens)))]
}

// worker is one connection's sender.
type worker struct {
	c        *config
	client   *http.Client
	issuer   string // JSON string
	run      string
	id       int
	seq      int
	accepted *accepted
	rnd      *rand.Rand
	r        *report
}

func (w *worker) loop(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		k, token := w.next()
		status, latency, err := w.send(ctx, token)
		if err != nil {
			if ctx.Err() == nil {
				w.r.record(k, 0, latency, err)
			}
			continue
		}
		w.r.record(k, status, latency, nil)
		if k == kindValid && status == http.StatusOK && !w.c.noJTI {
			w.accepted.add(token)
		}
	}
}

// next chooses what the next request carries and builds its token ("" for
// anonymous requests).
func (w *worker) next() (kind, string) {
	if w.c.anonymous {
		return kindValid, ""
	}
	x := w.rnd.Float64()
	switch {
	case x < w.c.replayRatio:
		if t := w.accepted.pick(w.rnd); t != "" {
			return kindReplay, t
		}
	case x < w.c.replayRatio+w.c.forgeRatio:
		return kindForged, w.forged()
	}
	return kindValid, w.sign(`{"alg":"HS256","typ":"JWT"}`, w.claims(!w.c.noJTI), "HS256", w.c.secret)
}

// claims are fresh claims with a unique jti (when withJTI).
func (w *worker) claims(withJTI bool) string {
	now := time.Now().Unix()
	iat, exp := strconv.FormatInt(now, 10), strconv.FormatInt(now+tokenLifetime, 10)
	if !withJTI {
		return `{"iss":` + w.issuer + `,"iat":` + iat + `,"exp":` + exp + `}`
	}
	w.seq++
	jti := fmt.Sprintf("load-%s-%d-%d", w.run, w.id, w.seq)
	return `{"iss":` + w.issuer + `,"jti":"` + jti + `","iat":` + iat + `,"exp":` + exp + `}`
}

func (w *worker) sign(header, claims, alg, secret string) string {
	return jwttest.SignAlg(alg, header, claims, []byte(secret))
}

// forged returns a token that must be refused, of one of five kinds in
// turn, each with a fresh jti so that it is not refused as a mere replay.
func (w *worker) forged() string {
	const header = `{"alg":"HS256","typ":"JWT"}`
	claims := w.claims(true)
	switch w.seq % 5 {
	case 0: // signed with another secret
		return w.sign(header, claims, "HS256", "forged-"+w.c.secret)
	case 1: // the signature's first character changed
		t := []byte(w.sign(header, claims, "HS256", w.c.secret))
		i := len(t) - 43 // the first character of the 43-character signature
		if t[i] == 'A' {
			t[i] = 'B'
		} else {
			t[i] = 'A'
		}
		return string(t)
	case 2: // alg none, no signature
		return jwttest.SigningInput(`{"alg":"none","typ":"JWT"}`, claims) + "."
	case 3: // a real HMAC with the secret, but HS512
		return w.sign(`{"alg":"HS512","typ":"JWT"}`, claims, "HS512", w.c.secret)
	default: // a valid signature over other claims
		other := w.sign(header, w.claims(true), "HS256", w.c.secret)
		mine := jwttest.SigningInput(header, claims)
		return mine + other[len(other)-44:]
	}
}

// send makes one request and returns its status and latency (the time to
// the end of the body).
func (w *worker) send(ctx context.Context, token string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.c.url, nil)
	if err != nil {
		return 0, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "JWT "+token)
	}
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	latency := time.Since(start)
	if err != nil {
		return 0, latency, errors.Join(fmt.Errorf("reading the body of a %d", resp.StatusCode), err)
	}
	return resp.StatusCode, latency, nil
}
