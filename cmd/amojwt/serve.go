package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/mockamo"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/redisstore"
	"github.com/amojwt/amojwt/verifier"
)

// shutdownTimeout bounds how long serve waits for requests in flight after
// SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

// Defaults of the connection bounds (--read-header-timeout, --read-timeout,
// --write-timeout, --idle-timeout). Every connection ends within them
// whatever a client sends or withholds, so a client cannot hold file
// descriptors by sending slowly or not at all (SPEC §6).
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = time.Minute
	defaultWriteTimeout      = time.Minute
	defaultIdleTimeout       = 2 * time.Minute
)

// serveConfig is the configuration of `amojwt serve`.
type serveConfig struct {
	addr        string
	keysFile    string
	demo        bool
	profile     verifier.Profile
	replay      replayFlag
	resetGuard  bool
	leeway      time.Duration
	maxLifetime time.Duration
	realm       string
	logFormat   string
	// upstream, when set, is the URL authenticated requests are proxied
	// to instead of the mock AMO API.
	upstream       string
	trustForwarded bool
	// redis, when set, is the URL of the Redis that keeps nonces.
	redis          string
	redisKeyPrefix string
	storeTimeout   time.Duration
	// memoryCapacity bounds the live nonces of the memory store.
	memoryCapacity int

	// Bounds on each connection: reading a request's header, reading the
	// whole request (body included), writing the response, and waiting
	// for the next request of a kept-alive connection.
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration

	// The submission API of `web-ext sign` (--mock-amo) and its state
	// and knobs.
	mockAMO         bool
	dataDir         string
	processingDelay time.Duration
	reviewDelay     time.Duration

	tlsConfig
}

// newServeCommand returns the serve command, which calls exec with its
// configuration once the flags are parsed.
func newServeCommand(exec func(context.Context, *serveConfig) error) *ffcli.Command {
	var c serveConfig
	fs := newFlagSet("serve")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "TCP address to listen on")
	fs.StringVar(&c.keysFile, "keys", "", "keys file (JSON: {\"keys\": [{\"key\", \"secret\", \"active\", \"user\"}]}); this or --demo")
	fs.BoolVar(&c.demo, "demo", false, "use the built-in demo key user:543210:23 (public secret; never in production); this or --keys")
	fs.TextVar(&c.profile, "profile", verifier.ProfileAMO, "whether a token needs a jti, `amo|strict`: amo (optional, as AMO) or strict (required)")
	fs.TextVar(&c.replay, "replay", replayFlag{}, "what a token whose jti was used before gets, `refuse|report|allow`: refuse (401, SPEC §5), report (accepted as AMO does, logged at Warn, counted in amojwt_token_reuses_total, marked X-Amojwt-Token-Reused: true) or allow (accepted; no nonce store); default: report with --mock-amo, refuse otherwise")
	fs.BoolVar(&c.resetGuard, "reset-guard", false, "refuse jti-bearing tokens issued before this process started remembering nonces (SPEC §5)")
	fs.DurationVar(&c.leeway, "leeway", verifier.DefaultLeeway, "clock skew allowed on iat, exp and nbf")
	fs.DurationVar(&c.maxLifetime, "max-lifetime", verifier.DefaultMaxLifetime, "largest exp - iat accepted")
	fs.StringVar(&c.realm, "realm", middleware.DefaultRealm, "realm of the WWW-Authenticate header on a 401")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&c.upstream, "upstream", "", "reverse-proxy mode: forward authenticated requests to this http(s) URL with X-Amo-* identity headers, instead of serving the mock AMO API")
	fs.StringVar(&c.redis, "redis", "", "keep nonces in Redis, shared by every instance: redis://[user:password@]host:port[/db], rediss://..., unix:///path, redis+sentinel://host:port,.../master, redis+cluster://host:port,...; default: in this process's memory. Prefer $AMOJWT_REDIS to keep a password out of ps")
	fs.StringVar(&c.redisKeyPrefix, "redis-key-prefix", redisstore.DefaultKeyPrefix, "with --redis: prefix of every key written; give deployments sharing a Redis their own")
	fs.IntVar(&c.memoryCapacity, "memory-capacity", noncestore.DefaultMemoryCapacity, "without --redis: most live nonces held (about 42 bytes each); a new nonce beyond it answers 503 until some expire (SPEC §7)")
	fs.DurationVar(&c.storeTimeout, "store-timeout", redisstore.DefaultTimeout, "with --redis: bound on one nonce store call; a slower store answers 503 (SPEC §7)")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "bound on reading a request's header; a slower client's connection is closed")
	fs.DurationVar(&c.readTimeout, "read-timeout", defaultReadTimeout, "bound on reading a whole request, body included (uploads to --mock-amo or --upstream must fit in it); a refused request's body is never read")
	fs.DurationVar(&c.writeTimeout, "write-timeout", defaultWriteTimeout, "bound on answering a request, from the end of its header to the last byte of the response (with --upstream, the upstream's time included)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", defaultIdleTimeout, "how long a kept-alive connection waits for its next request")
	fs.BoolVar(&c.trustForwarded, "trust-forwarded-headers", false, "only behind a proxy that overwrites these headers: /auth logs the method, URI and client the proxy reports (X-Forwarded-Method, X-Forwarded-Uri or X-Original-URI, the last X-Forwarded-For address or X-Real-IP); --upstream passes on the forwarding headers it receives (X-Forwarded-*, Forwarded, X-Real-IP...) instead of removing them")
	fs.BoolVar(&c.mockAMO, "mock-amo", false, "also serve the add-on submission API that web-ext sign uses (files are returned unchanged, NOT signed)")
	fs.StringVar(&c.dataDir, "data-dir", "", "keep state in this directory across restarts (default: in memory): the memory store's nonces (saved at SIGINT/SIGTERM, so a restart opens no replay window) and, with --mock-amo, uploads, add-ons and versions")
	fs.DurationVar(&c.processingDelay, "mock-amo-processing-delay", 0, "with --mock-amo: time before an upload's validation result shows")
	fs.DurationVar(&c.reviewDelay, "mock-amo-review-delay", 0, "with --mock-amo: time before a new version's file turns public (or disabled)")
	c.addTLSFlags(fs)
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "amojwt serve (--demo | --keys FILE) [flags]",
		ShortHelp:  "serve the mock AMO API and a forward-auth endpoint",
		LongHelp: "Serves, each behind AMO's JWT authentication:\n" +
			"  GET /api/{v3,v4,v5}/accounts/profile/  the caller's AMO profile\n" +
			"  /auth      forward-auth (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth):\n" +
			"             200 with X-Amo-User-Id, X-Amo-Issuer and X-Amo-Jti, or AMO's 401/503\n" +
			"  /healthz   200 ok\n" +
			"  /readyz    200 when the nonce store takes claims, else 503\n" +
			"  /metrics   Prometheus metrics (amojwt_requests_total{decision,reason}, ...)\n" +
			"With --upstream URL, every other path is authenticated, then proxied to URL with\n" +
			"X-Amo-User-Id, X-Amo-Issuer and X-Amo-Jti (a client's X-Amo-* headers, its\n" +
			"Authorization header and, without --trust-forwarded-headers, its forwarding headers\n" +
			"are removed); a path with a . or .. segment, however encoded, answers 400.\n" +
			"With --keys, the keys file is reloaded on SIGHUP and when it changes; a file that\n" +
			"does not load keeps the keys in use.\n" +
			"With --mock-amo, also the API `web-ext sign --amo-base-url http://ADDR/api/v5/` uses:\n" +
			"  /api/v5/addons/upload/, /api/v5/addons/addon/... and /firefox/downloads/file/...\n" +
			"  (the downloaded file is the upload, unchanged and NOT signed), and the knobs\n" +
			"  POST /__mockamo/fail-next-upload and /__mockamo/reject-next-review, which affect\n" +
			"  the caller's next upload or version.\n" +
			"A jti-bearing token is single-use (--replay refuse), except with --mock-amo, whose\n" +
			"default is AMO's (--replay report): a token reused until it expires is accepted,\n" +
			"and each reuse is logged at Warn with the issuer, counted in\n" +
			"amojwt_token_reuses_total and marked X-Amojwt-Token-Reused: true on the answer.\n" +
			"With --tls (or --tls-addr ADDR beside HTTP), HTTPS with a certificate for\n" +
			"addons.mozilla.org and loopback from a local CA kept in --data-dir/tls (or in\n" +
			"$XDG_DATA_HOME/amojwt/tls), so that clients that hard-code\n" +
			"https://addons.mozilla.org reach the mock; the start prints how to trust the\n" +
			"CA and point such clients here.\n" +
			"Without --redis, nonces are remembered in memory: a restart forgets them, so a\n" +
			"jti-bearing token used before it can be replayed until it expires unless\n" +
			"--reset-guard is on. With --data-dir, a stop by SIGINT or SIGTERM saves them and\n" +
			"the next start loads them; a start that finds none saved (a crash) applies the\n" +
			"reset guard by itself. With --redis, every instance shares them and the reset guard\n" +
			"is always on (it acts only when Redis itself lost its data). While the guard would\n" +
			"refuse tokens signed now, /readyz answers 503 {\"status\":\"starting\"}.\n" +
			"One log line per authentication decision goes to stderr; SIGINT or SIGTERM\n" +
			"stops the server after the requests in flight.",
		FlagSet:   fs,
		Options:   parseOptions,
		UsageFunc: usage,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("serve", args); err != nil {
				return err
			}
			return exec(ctx, &c)
		},
	}
}

// check reports the first invalid setting of c.
func (c *serveConfig) check() error {
	switch {
	case c.demo == (c.keysFile != ""):
		return usageError{"serve: give exactly one of --keys FILE and --demo" + forExample("serve")}
	case c.logFormat != "text" && c.logFormat != "json":
		return usageError{fmt.Sprintf("serve: --log-format %q: want text or json", c.logFormat)}
	}
	switch {
	case c.redis != "" && c.resetGuard:
		return usageError{"serve: --reset-guard is for the memory store; with --redis the guard is always on"}
	case c.storeTimeout <= 0:
		return usageError{"serve: --store-timeout must be positive"}
	case c.memoryCapacity <= 0:
		return usageError{"serve: --memory-capacity must be positive"}
	case c.readHeaderTimeout <= 0 || c.readTimeout <= 0 || c.writeTimeout <= 0 || c.idleTimeout <= 0:
		return usageError{"serve: --read-header-timeout, --read-timeout, --write-timeout and --idle-timeout must be positive"}
	}
	if c.upstream != "" {
		if _, err := parseUpstream(c.upstream); err != nil {
			return usageError{"serve: --upstream: " + err.Error()}
		}
	}
	switch {
	case !c.mockAMO && (c.processingDelay != 0 || c.reviewDelay != 0):
		return usageError{"serve: --mock-amo-processing-delay and --mock-amo-review-delay need --mock-amo"}
	case c.dataDir != "" && c.redis != "" && !c.mockAMO:
		return usageError{"serve: --data-dir keeps the memory store's nonces and --mock-amo's state: with --redis it needs --mock-amo"}
	case c.processingDelay < 0 || c.reviewDelay < 0:
		return usageError{"serve: --mock-amo-processing-delay and --mock-amo-review-delay must not be negative"}
	case c.mockAMO && c.upstream != "":
		return usageError{"serve: --mock-amo serves the mock AMO API, which --upstream replaces: give one of them"}
	}
	return c.checkTLS()
}

// newSubmissions returns the state of the submission API, or nil without
// --mock-amo.
func newSubmissions(c *serveConfig) (*mockamo.Submissions, error) {
	if !c.mockAMO {
		return nil, nil
	}
	opts := []mockamo.SubmissionOption{
		mockamo.WithProcessingDelay(c.processingDelay),
		mockamo.WithReviewDelay(c.reviewDelay),
	}
	if c.dataDir != "" {
		opts = append(opts, mockamo.WithDataDir(c.dataDir))
	}
	subs, err := mockamo.NewSubmissions(opts...)
	if err != nil {
		return nil, fmt.Errorf("serve: --mock-amo: %w", err)
	}
	return subs, nil
}

// serve runs the server of c until ctx is done, then shuts it down
// gracefully.
func serve(ctx context.Context, c *serveConfig, e env) error {
	if err := c.check(); err != nil {
		return err
	}
	logger := newLogger(c.logFormat, e.stderr)
	m := newMetrics()
	keys, err := loadKeys(c)
	if err != nil {
		return err
	}
	store, closeStore, err := newNonceStore(c, logger)
	if err != nil {
		return err
	}
	// Deferred before the server's shutdown: it runs after the requests
	// in flight are done, and a memory store with --data-dir saves then.
	defer func() {
		if err := closeStore(); err != nil {
			logger.Error("amojwt nonce store not saved: the next start treats this stop as a crash (SPEC §5)", "error", err)
		}
	}()
	// The first Ping establishes the store's epoch (SPEC §5) now, not at
	// the first token: /readyz then says 503 until tokens signed from now
	// on pass the reset guard.
	var wait time.Duration
	if epoch, err := store.Ping(ctx); err != nil {
		// Not fatal: requests fail closed (503) until the store answers,
		// and /readyz says so.
		logger.Warn("amojwt nonce store unreachable; jti-bearing tokens get 503 until it answers", "error", err)
	} else if wait = guardWait(epoch, time.Now(), c.leeway); wait > 0 && c.replayPolicy() == verifier.ReplayRefuse {
		logger.Info("amojwt nonce store epoch is recent: jti-bearing tokens signed before the reset guard lapses are refused, and /readyz answers 503 until then",
			"epoch", epoch, "lapses_in", wait)
	}
	v, err := newVerifier(c, keys, store)
	if err != nil {
		return err
	}
	if kf, ok := keys.(*verifier.KeysFile); ok {
		stopWatching := watchKeys(kf, logger, m)
		defer stopWatching()
	}
	subs, err := newSubmissions(c)
	if err != nil {
		return err
	}

	ln, err := listen(c, e.stdout, logger)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := newHTTPServer(c, newHandler(v, store, c, logger, m, subs), logger)
	addr := ln.Addr().String()
	// The reset guard is always on with --redis (newNonceStore).
	logger.Info("amojwt serving", "addr", addr, "api", servedAPI(c), "keys", keysSource(c), "profile", c.profile,
		"replay", c.replayPolicy(), "reset_guard", c.resetGuard || c.redis != "", "leeway", c.leeway, "max_lifetime", c.maxLifetime,
		"data_dir", c.dataDir, "nonce_store", storeName(c))
	if c.demo {
		printDemo(e.stdout, e.program, addr, c, wait)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if e.listening != nil {
		e.listening(addr)
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("amojwt shutting down", "timeout", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// newHTTPServer returns the server of h with c's connection bounds, where
// an answer that leaves the request's body unread closes the connection
// (closeUnread), logging net/http's own errors (accept failures, a
// handler's panic) at Warn.
func newHTTPServer(c *serveConfig, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           closeUnread(h),
		ReadHeaderTimeout: c.readHeaderTimeout,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// loadKeys returns the demo keys or the keys file's.
func loadKeys(c *serveConfig) (verifier.KeyStore, error) {
	if c.demo {
		return demoKeys(), nil
	}
	kf, err := verifier.LoadKeysFile(c.keysFile)
	if err != nil {
		return nil, fmt.Errorf("serve: --keys: %w", err)
	}
	return kf, nil
}

func keysSource(c *serveConfig) string {
	if c.demo {
		return "demo"
	}
	return c.keysFile
}

// replayFlag is --replay: a replay policy, or unset, when the default
// depends on --mock-amo (see serveConfig.replayPolicy).
type replayFlag struct {
	policy verifier.ReplayPolicy
	set    bool
}

// MarshalText returns the policy's name, or "" when unset.
func (f replayFlag) MarshalText() ([]byte, error) {
	if !f.set {
		return nil, nil
	}
	return f.policy.MarshalText()
}

// UnmarshalText sets the policy named by text.
func (f *replayFlag) UnmarshalText(text []byte) error {
	if err := f.policy.UnmarshalText(text); err != nil {
		return err
	}
	f.set = true
	return nil
}

// replayPolicy is the policy --replay gives, else the default: AMO's with
// the mock of its submission API (--mock-amo), which the clients under test
// expect to accept a reused token (SPEC §5), and single use everywhere
// else: forward-auth, --upstream and the profile endpoint alone.
func (c *serveConfig) replayPolicy() verifier.ReplayPolicy {
	switch {
	case c.replay.set:
		return c.replay.policy
	case c.mockAMO:
		return verifier.ReplayReport
	}
	return verifier.ReplayRefuse
}

// newVerifier returns the verifier c configures over keys and store.
func newVerifier(c *serveConfig, keys verifier.KeyStore, store noncestore.Store) (*verifier.Verifier, error) {
	v, err := verifier.New(keys,
		verifier.WithNonceStore(store),
		verifier.WithProfile(c.profile),
		verifier.WithReplay(c.replayPolicy()),
		verifier.WithLeeway(c.leeway),
		verifier.WithMaxLifetime(c.maxLifetime),
	)
	if err != nil {
		return nil, usageError{"serve: " + err.Error()}
	}
	return v, nil
}

// newHandler routes /healthz, /readyz, /metrics, /auth and everything else
// (the mock AMO API) to their handlers; every authentication decision is
// logged to logger and counted in m. subs, when not nil, adds the
// submission API to the mock AMO.
func newHandler(v *verifier.Verifier, store noncestore.Store, c *serveConfig, logger *slog.Logger, m *metrics, subs *mockamo.Submissions) http.Handler {
	auth := []middleware.Option{
		middleware.WithRealm(c.realm),
		middleware.WithLogger(logger),
		middleware.WithObserver(m.observe),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("/readyz", readyz(store, c.replayPolicy() == verifier.ReplayRefuse, c.leeway, time.Now, logger))
	mux.Handle("/metrics", m.handler(logger))
	mux.Handle("/auth", newForwardAuthHandler(v, c, logger, m))
	if c.upstream != "" {
		target, _ := parseUpstream(c.upstream) // checked by c.check
		mux.Handle("/", confinePath(middleware.New(v, auth...)(newUpstreamProxy(target, c.trustForwarded, logger))))
		return mux
	}
	amo := []mockamo.Option{mockamo.WithAuth(auth...)}
	if subs != nil {
		amo = append(amo, mockamo.WithSubmissions(subs))
	}
	mux.Handle("/", mockamo.New(v, amo...))
	return mux
}

// dialAddr is addr with an unspecified host (0.0.0.0, ::) replaced by
// loopback, for a URL a client can use.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}

// The demo key of `serve --demo`: public test data, printed at start.
const (
	demoIssuer = "user:543210:23"
	demoSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// demoKeys holds the demo key, whose user has read the developer agreement.
func demoKeys() verifier.KeyStore {
	agreed := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	keys, err := verifier.NewStaticKeys(&verifier.Key{
		Issuer: demoIssuer,
		Secret: verifier.Secret(demoSecret),
		Active: true,
		User: &verifier.User{ID: 543210, Username: "demo", Name: "Demo User", Email: "demo@example.com",
			ReadDevAgreement: &agreed},
	})
	if err != nil {
		panic("demo keys: " + err.Error()) // constant input: cannot happen
	}
	return keys
}
