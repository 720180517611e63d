package main

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slowRequest is the start of a request whose client then sends the rest
// slowly or never.
type slowRequest struct {
	name string
	// head is sent at once; trickle, when not empty, is then sent every
	// trickleEvery until the server closes the connection or the test ends.
	head, trickle string
}

// slowBodies are requests that announce a body and send little of it: a
// Content-Length of 100000 with 4 bytes sent, and a chunked body that
// trickles one byte at a time.
func slowBodies(path, auth string) []slowRequest {
	if auth != "" {
		auth = "Authorization: " + auth + "\r\n"
	}
	return []slowRequest{
		{"content-length", "POST " + path + " HTTP/1.1\r\nHost: amojwt\r\n" + auth + "Content-Length: 100000\r\n\r\naaaa", ""},
		{"chunked", "POST " + path + " HTTP/1.1\r\nHost: amojwt\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n", "1\r\na\r\n"},
	}
}

const trickleEvery = 100 * time.Millisecond

// slowConn is one connection of a slow client.
type slowConn struct {
	conn    net.Conn
	opened  time.Time
	stopped chan struct{} // closed when the trickle stops
	read    chan readResult
}

// readResult is what a slowConn read before the server closed it.
type readResult struct {
	data        []byte
	closedAfter time.Duration // from the opening to the close
	err         error         // the connection was not closed in time
}

// openSlow connects to addr and sends req.head, then req.trickle every
// trickleEvery until a write fails or the connection is closed. Meanwhile it
// reads what the server answers until the server closes the connection, for
// at most within: reading at once, the answer is read before a reset that
// the server's close may cause.
func openSlow(t *testing.T, addr string, req slowRequest, within time.Duration) *slowConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &slowConn{conn: conn, opened: time.Now(), stopped: make(chan struct{}), read: make(chan readResult, 1)}
	_ = conn.SetReadDeadline(c.opened.Add(within))
	go func() {
		data, err := io.ReadAll(conn)
		if errors.Is(err, syscall.ECONNRESET) {
			err = nil // closed with the client's unread bytes pending
		}
		c.read <- readResult{data, time.Since(c.opened), err}
	}()
	if _, err := io.WriteString(conn, req.head); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.stopped)
		if req.trickle == "" {
			return
		}
		for {
			time.Sleep(trickleEvery)
			if _, err := io.WriteString(conn, req.trickle); err != nil {
				return
			}
		}
	}()
	return c
}

// answer waits until the server closed c, and returns its answer's status
// ("" for none), whether the answer said Connection: close, and how long
// after the opening the server closed c.
func (c *slowConn) answer() (status string, connClose bool, closedAfter time.Duration, err error) {
	r := <-c.read
	c.conn.Close()
	<-c.stopped
	if r.err != nil {
		return "", false, 0, fmt.Errorf("not closed: %w", r.err)
	}
	if len(r.data) == 0 {
		return "", false, r.closedAfter, nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r.data)), nil)
	if err != nil {
		return "", false, r.closedAfter, fmt.Errorf("answered %q: %w", r.data, err)
	}
	return resp.Status, resp.Close, r.closedAfter, nil
}

// TestServeSlowClients is the attack of slow clients without credentials:
// many connections announce a body and send it slowly or never, to paths
// whose handlers answer without reading it. Each is answered with
// Connection: close at once and closed within a second (the grace for the
// rest of a body), not when the read timeout (a minute by default) ends,
// and valid requests sent during the attack are answered as usual.
func TestServeSlowClients(t *testing.T) {
	t.Parallel()
	const (
		attackers = 200 // in all, within the test's own file descriptors
		valid     = 10
		within    = 5 * time.Second // every connection is answered and closed within it
	)
	targets := []struct {
		path, wantStatus string
	}{
		{"/api/v5/accounts/profile/", "401 Unauthorized"}, // the middleware refuses
		{"/auth", "401 Unauthorized"},                     // forward-auth refuses
		{"/healthz", "200 OK"},                            // answers without reading
	}
	s := startServer(t, "--demo")
	addr := strings.TrimPrefix(s.url, "http://")
	type attack struct {
		name, wantStatus string
		conn             *slowConn
	}
	var conns []attack
	for i := range attackers {
		target := targets[i%len(targets)]
		bodies := slowBodies(target.path, "")
		req := bodies[i/len(targets)%len(bodies)]
		conns = append(conns, attack{req.name + " " + target.path, target.wantStatus, openSlow(t, addr, req, within)})
	}

	// Valid requests, each on a new connection, while the attackers wait.
	client := &http.Client{Timeout: within, Transport: &http.Transport{DisableKeepAlives: true}}
	var slowestValid time.Duration
	for i := range valid {
		req, err := http.NewRequest("GET", s.url+"/api/v5/accounts/profile/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "JWT "+token(t, fmt.Sprint("slow-", i)))
		start := time.Now()
		resp, err := client.Do(req)
		slowestValid = max(slowestValid, time.Since(start))
		if err != nil {
			t.Fatalf("valid request %d during the attack: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("valid request %d during the attack: %s", i, resp.Status)
		}
	}

	failures := map[string]int{}
	var first error
	var slowest time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range conns {
		wg.Go(func() {
			status, connClose, after, err := a.conn.answer()
			if err == nil && (status != a.wantStatus || !connClose) {
				err = fmt.Errorf("answered %q, Connection: close %v; want %q and close", status, connClose, a.wantStatus)
			}
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, after)
			if err != nil {
				failures[a.name]++
				first = cmp.Or(first, fmt.Errorf("%s: %w", a.name, err))
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("slow clients not answered and closed within %v: %v; first: %v", within, failures, first)
	}
	t.Logf("%d slow clients, all closed within %v after they connected; %d valid requests meanwhile, the slowest answered in %v",
		len(conns), slowest, valid, slowestValid)
}

// TestServeConnectionTimeouts: each connection bound of serve closes a
// client that sends too slowly, or sends nothing more, once it is over.
func TestServeConnectionTimeouts(t *testing.T) {
	t.Parallel()
	const bound = time.Second // the timeout under test, given on the command line
	const slack = 4 * time.Second
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the whole body, as an upload handler would
	}))
	t.Cleanup(up.Close)
	s := startServer(t, "--demo", "--upstream", up.URL, "--read-header-timeout", bound.String(), "--read-timeout", bound.String(),
		"--idle-timeout", bound.String())
	addr := strings.TrimPrefix(s.url, "http://")
	bodies := slowBodies("/upload", "JWT "+token(t, ""))
	tests := []struct {
		name string
		req  slowRequest
		// wantStatus is the status line answered before the close; "" for
		// none (closed without an answer), "any" when any answer or none
		// will do.
		wantStatus string
	}{
		{"header never finished (--read-header-timeout)", slowRequest{"", "GET / HTTP/1.1\r\nHost: amojwt\r\n", "X: y\r\n"}, ""},
		{"nothing sent (--read-header-timeout)", slowRequest{"", "", ""}, ""},
		// Authenticated, so the proxy reads the body to send it upstream,
		// for at most the read timeout. The upstream sees the body cut
		// short, and whether its answer or a 502 comes first is a race.
		{"accepted, body never finished (--read-timeout)", bodies[0], "any"},
		{"accepted, chunked body trickling (--read-timeout)", bodies[1], "any"},
		{"idle after a request (--idle-timeout)", slowRequest{"", "GET /healthz HTTP/1.1\r\nHost: amojwt\r\n\r\n", ""}, "200 OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := openSlow(t, addr, tt.req, bound+slack)
			status, _, after, err := c.answer()
			switch {
			case err != nil || status != tt.wantStatus && tt.wantStatus != "any":
				t.Errorf("got %q, %v; want %q, then the connection closed within %v", status, err, tt.wantStatus, bound+slack)
			case after < bound*9/10: // the server's clock starts a little before the client's
				t.Errorf("closed %v after it connected, before the %v bound", after, bound)
			}
		})
	}
}
