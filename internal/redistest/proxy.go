//go:build unix

package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a loopback TCP proxy in front of a server that can lose a reply:
// the server runs the command, the client never hears back. That is what a
// network fault between the two looks like to a client that retries.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	match []byte // armed: cut the connection after the reply to a write containing it
	conns map[net.Conn]struct{}

	dropped atomic.Int64
	wg      sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards every connection to
// target. The test cleanup closes it and all its connections.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's "127.0.0.1:port", for the client under test.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DropReplyAfter arms the proxy once: the next client write that contains
// match is delivered to the server, and the server's reply to it is thrown
// away and that connection closed on both sides.
func (p *Proxy) DropReplyAfter(match []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.match = bytes.Clone(match)
}

// Dropped counts the replies thrown away so far.
func (p *Proxy) Dropped() int { return int(p.dropped.Load()) }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		var cut atomic.Bool
		p.wg.Add(2)
		go p.pipe(c, s, func(b []byte) { // client -> server
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.match != nil && bytes.Contains(b, p.match) {
				p.match = nil
				cut.Store(true)
			}
		})
		go p.pipe(s, c, func([]byte) { // server -> client
			if cut.Load() {
				p.dropped.Add(1)
				c.Close()
				s.Close()
			}
		})
	}
}

// pipe copies from src to dst, calling seen on each chunk before it is
// forwarded (seen may close the connections to drop the chunk).
func (p *Proxy) pipe(src, dst net.Conn, seen func([]byte)) {
	defer p.wg.Done()
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed: closing both ends tells the other side
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
