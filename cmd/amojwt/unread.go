package main

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// closeUnread returns next, except that a response begun before the
// request's body was read to its end carries Connection: close, and the
// rest of the body may take unreadBodyGrace to arrive before the
// connection is closed. net/http otherwise reads what is left of an unread
// body (up to 256 KiB) before it answers and again before it closes the
// connection, so a client that announces a body and sends it slowly, or
// never, would hold the connection until --read-timeout; the grace lets a
// client still sending its body read the answer rather than a reset. Many
// of serve's answers read no body: /healthz, /readyz, /metrics, /auth, the
// mock AMO's errors. The middleware does the same for its refusals; this
// covers every other handler (SPEC §6).
func closeUnread(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		body := &eofBody{ReadCloser: r.Body, length: r.ContentLength}
		r.Body = body
		next.ServeHTTP(&unreadWriter{ResponseWriter: w, body: body}, r)
	})
}

// unreadBodyGrace is how long the rest of a request's body may take to
// arrive once an answer that leaves it unread has begun (the middleware's
// refusals allow as long).
const unreadBodyGrace = time.Second

// eofBody is a request body that records whether it was read to its end:
// to io.EOF, or to its Content-Length (a JSON or multipart reader stops at
// the end of what it parses). The record is atomic: a reverse proxy reads
// the body in another goroutine while it writes the response.
type eofBody struct {
	io.ReadCloser
	length int64 // the Content-Length; -1 when unknown (chunked)
	read   atomic.Int64
	eof    atomic.Bool
}

func (b *eofBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}

// done reports whether the body was read to its end.
func (b *eofBody) done() bool {
	return b.eof.Load() || b.length >= 0 && b.read.Load() >= b.length
}

// unreadWriter is the ResponseWriter of closeUnread: the first WriteHeader
// or Write of a response whose body is not read to its end closes the
// connection after the response.
type unreadWriter struct {
	http.ResponseWriter
	body    *eofBody
	checked bool
}

func (u *unreadWriter) check() {
	if u.checked {
		return
	}
	u.checked = true
	if !u.body.done() {
		u.Header().Set("Connection", "close")
		_ = http.NewResponseController(u.ResponseWriter).SetReadDeadline(time.Now().Add(unreadBodyGrace))
	}
}

func (u *unreadWriter) WriteHeader(status int) {
	if status >= 200 { // not an informational (1xx) response
		u.check()
	}
	u.ResponseWriter.WriteHeader(status)
}

func (u *unreadWriter) Write(p []byte) (int, error) {
	u.check()
	return u.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (Flush for the
// reverse proxy, deadlines).
func (u *unreadWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }
