//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The addresses of the README's proxy configurations, which the tests
// replace with their own.
const (
	readmeListenPort = ":8000" // the proxy's, on loopback
	readmeAmojwt     = "127.0.0.1:8080"
	readmeApp        = "127.0.0.1:9000"
)

// readmeBlock returns the README's fenced block of language lang, which
// the tests run as it is written, addresses aside; it holds wants too.
func readmeBlock(t *testing.T, lang string, wants ...string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```"+lang+"\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("README.md has no ```%s block", lang)
	}
	for _, want := range append([]string{readmeListenPort, readmeAmojwt, readmeApp}, wants...) {
		if !strings.Contains(block, want) {
			t.Fatalf("the README's %s block lacks %q", lang, want)
		}
	}
	return block
}

// proxySite is one site of a README proxy configuration, listening on a
// loopback port, with amojwt at amojwt and the application at app.
type proxySite struct {
	amojwt, app string // host:port
	url         string // set by startProxy
}

// startProxy runs a proxy for sites until the test ends. configure writes
// its configuration, the README's block once per site with each site's
// addresses put in by replacer, and returns the command that runs the proxy
// in the foreground and the file it logs to. The proxy is stopped with
// stop. A port taken between its choice and the proxy's start is retried.
func startProxy(t *testing.T, sites []*proxySite, stop os.Signal, configure func(replacer func(i int) *strings.Replacer) (*exec.Cmd, string)) {
	t.Helper()
	var lastErr error
	for range 3 {
		ports, err := freeLoopbackPorts(len(sites))
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range sites {
			s.url = "http://127.0.0.1:" + strconv.Itoa(ports[i])
		}
		cmd, logFile := configure(func(i int) *strings.Replacer {
			return strings.NewReplacer(readmeAmojwt, sites[i].amojwt, readmeApp, sites[i].app,
				readmeListenPort, ":"+strconv.Itoa(ports[i]))
		})
		if lastErr = launch(t, cmd, strings.TrimPrefix(sites[0].url, "http://"), stop, logFile); lastErr == nil {
			return
		}
	}
	t.Fatal(lastErr)
}

// launch starts cmd and waits until addr accepts connections; it stops cmd
// with stop (then kills it) when the test ends. On failure it returns cmd's
// output and logFile.
func launch(t *testing.T, cmd *exec.Cmd, addr string, stop os.Signal, logFile string) error {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	halt := func() {
		_ = cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	name := filepath.Base(cmd.Path)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("%s exited (%v): %s\n%s", name, err, out.String(), log)
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			conn.Close()
			t.Cleanup(halt)
			return nil
		}
		if time.Now().After(deadline) {
			halt()
			return errors.New(name + " did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeLoopbackPorts returns n loopback ports that were free a moment ago.
func freeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// forwardingSpoof are the forwarding headers a client sends to pose as a
// proxy: the README's configurations must keep them out of the request that
// /auth logs with --trust-forwarded-headers.
var forwardingSpoof = map[string]string{"X-Real-IP": "203.0.113.1", "X-Forwarded-For": "203.0.113.2",
	"X-Forwarded-Uri": "/spoofed", "X-Original-URI": "/spoofed", "X-Forwarded-Method": "DELETE"}

// checkLoggedRequest checks that logs, serve's JSON log, has an "amojwt
// auth" line for method and path from 127.0.0.1 (the proxy's client), and
// none for a request a client's forwarding headers describe.
func checkLoggedRequest(t *testing.T, logs, method, path string) {
	t.Helper()
	found := false
	for line := range strings.Lines(logs) {
		var l struct{ Msg, Method, Path, Remote string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "amojwt auth" {
			continue
		}
		if l.Path == "/spoofed" || l.Method == "DELETE" || strings.HasPrefix(l.Remote, "203.0.113.") {
			t.Errorf("/auth logged a request the client's forwarding headers describe: %s", line)
		}
		found = found || l.Method == method && l.Path == path && l.Remote == "127.0.0.1"
	}
	if !found {
		t.Errorf("/auth logged no %s %s from 127.0.0.1:\n%s", method, path, logs)
	}
}
