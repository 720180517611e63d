// Command amojwt-load sends AMO API requests to an amojwt server on this
// machine for a bounded time and reports throughput, latency, the count of
// each status, and whether any replayed or forged token was accepted
// (issue 4: load; issue 6: end-to-end throughput).
//
// Usage:
//
//	amojwt-load --secret S [--url http://127.0.0.1:8080] [--path /api/v5/accounts/profile/]
//	            [--key user:543210:23] [--duration 10s] [--connections 16]
//	            [--replay-ratio 0.1] [--forge-ratio 0.1] [--no-jti] [--anonymous]
//	            [--slow-clients 200]
//
// Each connection sends requests one after another: a fresh token with a
// unique jti (signed like the AMO docs' example, exp = iat + 60), or with the
// given ratios a replay of a token the server already accepted, or a forgery
// (a wrong secret, a flipped signature bit, alg none, HS512, a swapped
// payload). --anonymous sends no Authorization header, to measure an
// unauthenticated endpoint such as /healthz on the same server.
// --slow-clients also holds that many connections the way slow clients do
// (a POST that announces a body and sends almost none of it), to measure
// how the server answers everyone else meanwhile and whether it closes them.
//
// Only loopback targets are accepted. The exit status is 1 when a replay or
// a forgery was accepted, a 5xx was answered or a request failed; 2 for a
// usage error. Every flag also reads AMOJWT_<FLAG> (AMOJWT_SECRET keeps the
// secret out of ps).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
)

// Bounds of the flags: a run is bounded in time and in connections.
const (
	maxDuration    = 5 * time.Minute
	maxConnections = 1024
)

// errFailed is returned when the run saw an accepted replay or forgery, a
// 5xx or a failed request: exit status 1.
var errFailed = errors.New("amojwt-load: the server accepted a replay or a forgery, answered 5xx, or a request failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errFailed):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "amojwt-load:", err)
		os.Exit(2)
	}
}

// run parses args, sends the load and prints the report to w. It returns
// errFailed when the report shows a failure, or a usage error.
func run(ctx context.Context, args []string, w io.Writer) error {
	c, err := parseFlags(args, w)
	if err != nil {
		return err
	}
	r, err := generate(ctx, c)
	if err != nil {
		return err
	}
	r.print(w, c)
	if r.failed() {
		return errFailed
	}
	return nil
}

// parseFlags reads the command line and the AMOJWT_* environment into a
// checked config.
func parseFlags(args []string, w io.Writer) (*config, error) {
	var c config
	var rawURL string
	fs := flag.NewFlagSet("amojwt-load", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&rawURL, "url", "http://127.0.0.1:8080", "base URL of the server; loopback only")
	fs.StringVar(&c.path, "path", "/api/v5/accounts/profile/", "path requested (GET)")
	fs.StringVar(&c.key, "key", "user:543210:23", "API key, the iss claim")
	fs.StringVar(&c.secret, "secret", "", "API secret that signs the tokens; required unless --anonymous")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, fmt.Sprintf("how long to send requests, at most %v", maxDuration))
	fs.IntVar(&c.connections, "connections", 16, fmt.Sprintf("concurrent connections, each sending one request at a time (1 to %d)", maxConnections))
	fs.Float64Var(&c.replayRatio, "replay-ratio", 0, "share of requests that replay a token the server accepted (0 to 1)")
	fs.Float64Var(&c.forgeRatio, "forge-ratio", 0, "share of requests that carry a forged token (0 to 1)")
	fs.BoolVar(&c.noJTI, "no-jti", false, "valid tokens carry no jti, as web-ext sign's (reusable: no replays then)")
	fs.BoolVar(&c.anonymous, "anonymous", false, "send no Authorization header (for /healthz); no replays or forgeries then")
	fs.IntVar(&c.slowClients, "slow-clients", 0, fmt.Sprintf("also open this many connections (0 to %d) that POST --path without credentials, announce a 100000-byte body and send 4 bytes of it, and report how many the server answers and closes", maxConnections))
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("AMOJWT")); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	base, err := loopbackURL(rawURL)
	if err != nil {
		return nil, err
	}
	c.url = base + c.path
	return &c, c.check()
}

// check reports the first invalid setting of c.
func (c *config) check() error {
	switch {
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("--duration %v: want more than 0 and at most %v", c.duration, maxDuration)
	case c.connections < 1 || c.connections > maxConnections:
		return fmt.Errorf("--connections %d: want 1 to %d", c.connections, maxConnections)
	case c.replayRatio < 0 || c.forgeRatio < 0 || c.replayRatio+c.forgeRatio > 1:
		return fmt.Errorf("--replay-ratio %v and --forge-ratio %v: want each at least 0 and together at most 1", c.replayRatio, c.forgeRatio)
	case c.noJTI && c.replayRatio > 0:
		return errors.New("--no-jti with --replay-ratio: tokens without jti may be reused (SPEC §5), so a replay proves nothing")
	case c.anonymous && (c.replayRatio > 0 || c.forgeRatio > 0 || c.noJTI):
		return errors.New("--anonymous sends no tokens: no --replay-ratio, --forge-ratio or --no-jti")
	case !c.anonymous && c.secret == "":
		return errors.New("--secret (or AMOJWT_SECRET) is required unless --anonymous")
	case c.path == "" || c.path[0] != '/':
		return fmt.Errorf("--path %q: want an absolute path", c.path)
	case c.slowClients < 0 || c.slowClients > maxConnections:
		return fmt.Errorf("--slow-clients %d: want 0 to %d", c.slowClients, maxConnections)
	case c.slowClients > 0 && !strings.HasPrefix(c.url, "http://"):
		return errors.New("--slow-clients speaks plain HTTP: give an http:// --url")
	}
	return nil
}
