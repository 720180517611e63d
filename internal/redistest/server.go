//go:build unix

// Package redistest starts throw-away redis-server processes for tests: a
// standalone server, a Cluster of masters (and replicas), or a Sentinel group.
//
// Every process listens on a free loopback port (never the machine's own
// Redis on 6379), keeps its data in memory only (save "", appendonly no) and
// runs in its own process group inside a temporary directory. t.Cleanup kills
// the group; on Linux the process also gets SIGKILL if the test binary dies.
//
// When redis-server is not installed, tests skip with an install hint, unless
// the environment variable CI is set: in CI a missing binary fails the test.
//
// Methods that can fail call t.Fatal on the test that started the server,
// so call them from that test's goroutine.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/testtool"
)

// startTimeout bounds how long a process may take to start, a cluster or
// a Sentinel to settle, and one command sent by Do (a busy machine is slow).
const startTimeout = 10 * time.Second

// installHint is the command that installs what this package needs.
const installHint = "apt-get install -y redis-server redis-tools"

// Option configures a server started by Start.
type Option func(*config)

type config struct {
	lines []string
}

// WithConfig adds redis.conf lines (for example "replicaof 127.0.0.1 7000"
// or "maxmemory 1mb") after the defaults, so they override them.
func WithConfig(lines ...string) Option {
	return func(c *config) { c.lines = append(c.lines, lines...) }
}

// Server is one redis-server process on 127.0.0.1. It is stopped by the
// cleanup of the test that started it.
type Server struct {
	t     testing.TB
	bin   string
	args  []string
	dir   string
	conf  string
	port  int
	lines []string

	mu     sync.Mutex
	proc   *os.Process
	exited chan struct{}
}

// Start starts a redis-server on a free loopback port and waits until it
// answers PING. It skips the test when redis-server is missing (fails it when
// the environment variable CI is set).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	return start(t, process{bin: binary(t, "redis-server"), lines: c.lines})
}

// process describes how to start one server.
type process struct {
	bin   string
	args  []string // after the config file name, e.g. "--sentinel"
	lines []string // redis.conf lines after the defaults
	// portLines, when set, gets a second free port and returns config
	// lines that use it (the cluster bus port).
	portLines func(port int) []string
}

func start(t testing.TB, p process) *Server {
	t.Helper()
	s := &Server{t: t, bin: p.bin, args: p.args, dir: t.TempDir()}
	s.conf = filepath.Join(s.dir, "redis.conf")
	t.Cleanup(s.stop)
	var lastErr error
	// A free port can be taken between our probe and redis-server's bind:
	// try again on another one.
	for range 5 {
		ports, err := freePorts(2)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.port = ports[0]
		s.lines = p.lines
		if p.portLines != nil {
			s.lines = append(append([]string(nil), p.lines...), p.portLines(ports[1])...)
		}
		if lastErr = s.launch(); lastErr == nil {
			return s
		}
		if !errors.Is(lastErr, errAddrInUse) {
			break
		}
	}
	t.Fatalf("redistest: start %s: %v", p.bin, lastErr)
	return nil
}

var errAddrInUse = errors.New("address already in use")

// binary finds a program on PATH, skipping or failing the test without it.
func binary(t testing.TB, name string) string {
	t.Helper()
	return testtool.Program(t, name, installHint)
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// launch writes the config file, starts the process and waits for PING.
func (s *Server) launch() error {
	conf := strings.Join(append([]string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		`save ""`,
		"appendonly no",
		"daemonize no",
		`logfile ""`,
		"dir " + s.dir,
		// Replicas sync at once instead of after the default 5 s.
		"repl-diskless-sync-delay 0",
	}, s.lines...), "\n") + "\n"
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(s.bin, append([]string{s.conf}, s.args...)...)
	log := &logBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.proc, s.exited = cmd.Process, exited
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			if strings.Contains(log.String(), "Address already in use") {
				return fmt.Errorf("port %d: %w", s.port, errAddrInUse)
			}
			return fmt.Errorf("exited during start; log:\n%s", log.String())
		default:
		}
		// Any reply will do: a server with requirepass says NOAUTH.
		var re replyError
		if _, err := s.command(200*time.Millisecond, "PING"); err == nil || errors.As(err, &re) {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("no PONG after %v; log:\n%s", startTimeout, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Kill stops the server at once with SIGKILL (its data is gone: nothing is
// persisted) and waits for it to exit. Clients then get connection errors.
func (s *Server) Kill() {
	s.t.Helper()
	s.kill()
}

// Restart kills the server and starts a new, empty one on the same port:
// a Redis that lost its memory, as after a crash without persistence.
func (s *Server) Restart() {
	s.t.Helper()
	s.kill()
	var err error
	// The port was just released by our own process; retry briefly in case
	// the kernel has not let go of it yet.
	for range 20 {
		if err = s.launch(); !errors.Is(err, errAddrInUse) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("redistest: restart on port %d: %v", s.port, err)
	}
}

// Pause freezes the server with SIGSTOP: connections stay open but nothing
// is answered, like a stalled or partitioned node. Resume undoes it; the
// test cleanup kills a paused server too.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
}

// Resume continues a server frozen by Pause (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(syscall.SIGCONT)
}

// FlushAll empties every database of the server (FLUSHALL), as an operator
// or a failover to an empty node would.
func (s *Server) FlushAll() {
	s.t.Helper()
	s.Do("FLUSHALL")
}

// Do sends one command and returns the reply (simple strings, integers and
// bulk strings as text; arrays as their elements joined by newlines). A
// connection error or a Redis error fails the test.
func (s *Server) Do(args ...string) string {
	s.t.Helper()
	r, err := s.command(startTimeout, args...)
	if err != nil {
		s.t.Fatalf("redistest: %s on %s: %v", args[0], s.Addr(), err)
	}
	return r
}

// poll sends one command for a wait loop: an error (a busy machine, a
// server not ready yet) is an empty reply, and the loop tries again.
func (s *Server) poll(args ...string) string {
	r, _ := s.command(time.Second, args...)
	return r
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: signal %v: server %s is not running", sig, s.Addr())
	}
	// Negative pid: the whole process group (Setpgid).
	if err := syscall.Kill(-s.proc.Pid, sig); err != nil {
		s.t.Fatalf("redistest: signal %v to %s: %v", sig, s.Addr(), err)
	}
}

// kill sends SIGKILL to the process group and waits for the exit.
func (s *Server) kill() {
	s.mu.Lock()
	proc, exited := s.proc, s.exited
	s.proc = nil
	s.mu.Unlock()
	if proc == nil {
		return
	}
	_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
	<-exited
}

func (s *Server) stop() { s.kill() }

// command runs one command over a fresh connection (RESP2), so that helper
// traffic never shares state with the clients under test.
func (s *Server) command(timeout time.Duration, args ...string) (string, error) {
	return command(s.Addr(), timeout, args...)
}

func command(addr string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return "", err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", replyError(body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "", nil // nil bulk string
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// replyError is an error reply from the server.
type replyError string

func (e replyError) Error() string { return string(e) }

// logBuffer collects a process's output, keeping the last 64 KiB.
type logBuffer struct {
	mu sync.Mutex
	b  []byte
}

const logLimit = 64 << 10

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > logLimit {
		l.b = append(l.b[:0], l.b[len(l.b)-logLimit:]...)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
