package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// slowRequest is what each slow client sends: a POST of c.path without
// credentials that announces a body of 100000 bytes and sends 4 of them.
const slowRequest = "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\naaaa"

// slowClients are connections that each send slowRequest and nothing more,
// holding a connection of the server until it answers and closes it (SPEC
// §6), while the workers measure how the server answers everyone else.
type slowClients struct {
	start    time.Time
	conns    []net.Conn
	answered atomic.Int64 // connections the server sent something on
	closed   atomic.Int64 // connections the server closed
	lastShut atomic.Int64 // when the server closed the last one, after start (ns)
	wg       sync.WaitGroup
}

// slowResult is what the server did with the slow clients of a run.
type slowResult struct {
	opened, answered, closed int64
	lastClose                time.Duration // after the first was opened
}

// openSlowClients opens c.slowClients slow clients to c.url.
func openSlowClients(ctx context.Context, c *config) (*slowClients, error) {
	s := &slowClients{start: time.Now()}
	if c.slowClients == 0 {
		return s, nil
	}
	u, err := url.Parse(c.url)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	req := fmt.Sprintf(slowRequest, u.RequestURI(), u.Host)
	for range c.slowClients {
		conn, err := loopbackDialer(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
		if err == nil {
			_, err = io.WriteString(conn, req)
		}
		if err != nil {
			if conn != nil {
				conn.Close()
			}
			s.finish()
			return nil, fmt.Errorf("slow client %d: %w", len(s.conns)+1, err)
		}
		s.conns = append(s.conns, conn)
		s.wg.Go(func() { s.watch(conn) })
	}
	return s, nil
}

// watch reads what the server sends on conn until the server closes it or
// finish does.
func (s *slowClients) watch(conn net.Conn) {
	buf := make([]byte, 512)
	answered := false
	for {
		n, err := conn.Read(buf)
		if n > 0 && !answered {
			answered = true
			s.answered.Add(1)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, net.ErrClosed) { // closed by the server, not by finish
			s.closed.Add(1)
			shut := int64(time.Since(s.start))
			for {
				last := s.lastShut.Load()
				if shut <= last || s.lastShut.CompareAndSwap(last, shut) {
					break
				}
			}
		}
		return
	}
}

// finish closes the slow clients the server still holds and returns what
// the server did.
func (s *slowClients) finish() slowResult {
	for _, conn := range s.conns {
		conn.Close()
	}
	s.wg.Wait()
	return slowResult{opened: int64(len(s.conns)), answered: s.answered.Load(), closed: s.closed.Load(),
		lastClose: time.Duration(s.lastShut.Load())}
}
