package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/redisstore"
	"github.com/amojwt/amojwt/verifier"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the
// test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCommand runs the program with args and returns its error, stdout and
// stderr.
func runCommand(t *testing.T, args ...string) (err error, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	err = run(context.Background(), args, env{stdout: &out, stderr: &errOut, program: "amojwt"})
	return err, out.String(), errOut.String()
}

func TestServeFlags(t *testing.T) {
	// config is the default configuration, changed by edit.
	config := func(edit func(*serveConfig)) serveConfig {
		c := serveConfig{addr: "127.0.0.1:8080", profile: verifier.ProfileAMO, leeway: 5 * time.Second, maxLifetime: 5 * time.Minute,
			realm: "Access to addons.mozilla.org external API", logFormat: "text",
			redisKeyPrefix: redisstore.DefaultKeyPrefix, storeTimeout: redisstore.DefaultTimeout,
			memoryCapacity: noncestore.DefaultMemoryCapacity, readHeaderTimeout: 10 * time.Second, readTimeout: time.Minute,
			writeTimeout: time.Minute, idleTimeout: 2 * time.Minute}
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    serveConfig
		wantErr string // substring of the parse error; "" for none
	}{
		{
			name: "defaults",
			args: []string{"--demo"},
			want: config(func(c *serveConfig) { c.demo = true }),
		},
		{
			name: "every flag",
			args: []string{"--addr", ":9000", "--keys", "k.json", "--profile", "strict", "--replay", "allow", "--reset-guard",
				"--leeway", "2s", "--max-lifetime", "1m", "--realm", "r", "--log-format", "json",
				"--upstream", "http://127.0.0.1:9", "--trust-forwarded-headers",
				"--redis", "redis://127.0.0.1:1/2", "--redis-key-prefix", "p:", "--store-timeout", "1s", "--memory-capacity", "5000",
				"--read-header-timeout", "1s", "--read-timeout", "2s", "--write-timeout", "3s", "--idle-timeout", "4s"},
			want: serveConfig{addr: ":9000", keysFile: "k.json", profile: verifier.ProfileStrict,
				replay: replayFlag{verifier.ReplayAllow, true}, resetGuard: true,
				leeway: 2 * time.Second, maxLifetime: time.Minute, realm: "r", logFormat: "json",
				upstream: "http://127.0.0.1:9", trustForwarded: true,
				redis: "redis://127.0.0.1:1/2", redisKeyPrefix: "p:", storeTimeout: time.Second, memoryCapacity: 5000,
				readHeaderTimeout: time.Second, readTimeout: 2 * time.Second, writeTimeout: 3 * time.Second, idleTimeout: 4 * time.Second},
		},
		{
			name: "environment",
			env: map[string]string{"AMOJWT_DEMO": "true", "AMOJWT_MAX_LIFETIME": "90s", "AMOJWT_RESET_GUARD": "1", "AMOJWT_REPLAY": "report",
				"AMOJWT_LOG_FORMAT": "json", "AMOJWT_ADDR": "127.0.0.1:1", "AMOJWT_REDIS": "redis://r:6379",
				"AMOJWT_TRUST_FORWARDED_HEADERS": "true", "AMOJWT_READ_TIMEOUT": "30s"},
			want: config(func(c *serveConfig) {
				c.addr, c.demo, c.resetGuard, c.maxLifetime, c.logFormat = "127.0.0.1:1", true, true, 90*time.Second, "json"
				c.redis, c.trustForwarded, c.readTimeout = "redis://r:6379", true, 30*time.Second
				c.replay = replayFlag{verifier.ReplayReport, true}
			}),
		},
		{
			name: "command line wins over environment",
			args: []string{"--leeway", "1s", "--demo"},
			env:  map[string]string{"AMOJWT_LEEWAY": "9s"},
			want: config(func(c *serveConfig) { c.leeway, c.demo = time.Second, true }),
		},
		{name: "bad duration", args: []string{"--leeway", "5"}, wantErr: "leeway"},
		{name: "bad replay policy", args: []string{"--replay", "sometimes"}, wantErr: "replay"},
		{name: "bad profile", args: []string{"--profile", "lax"}, wantErr: "profile"},
		{name: "bad environment value", env: map[string]string{"AMOJWT_MAX_LIFETIME": "long"}, wantErr: "AMOJWT_MAX_LIFETIME"},
		{name: "unknown flag", args: []string{"--nope", "x"}, wantErr: "unknown flag --nope"},
		{
			name: "joined values and single dashes",
			args: []string{"--addr=:9000", "-demo", "-leeway=2s", "--redis-key-prefix=a=b:"},
			want: config(func(c *serveConfig) {
				c.addr, c.demo, c.leeway, c.redisKeyPrefix = ":9000", true, 2*time.Second, "a=b:"
			}),
		},
		{
			name: "boolean flags joined",
			args: []string{"--demo=true", "--reset-guard=false", "--trust-forwarded-headers=1"},
			want: config(func(c *serveConfig) { c.demo, c.trustForwarded = true, true }),
		},
		{name: "boolean flag with a separate value", args: []string{"--demo", "false"}, wantErr: `unexpected argument "false" (a boolean flag takes its value joined: --flag=false)`},
		{name: "argument before the flags", args: []string{"extra", "--demo"}, wantErr: `unexpected argument "extra"`},
		{name: "flag after --", args: []string{"--demo", "--", "--keys", "k.json"}, wantErr: `unexpected argument "--keys"`},
		{name: "flag without its value", args: []string{"--demo", "--addr"}, wantErr: "--addr needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := parseServe(tt.args)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one mentioning %q", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case *got != tt.want:
				t.Errorf("config %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// parseServe parses args as the command line `amojwt serve ARGS` and
// returns the configuration serve would run with.
func parseServe(args []string) (*serveConfig, error) {
	var got *serveConfig
	cmd := newServeCommand(func(_ context.Context, c *serveConfig) error {
		got = c
		return nil
	})
	root := &ffcli.Command{Name: "amojwt", FlagSet: newFlagSet("amojwt"), Subcommands: []*ffcli.Command{cmd}}
	if err := parse(root, append([]string{"serve"}, args...), io.Discard); err != nil {
		return nil, err
	}
	return got, root.Run(context.Background())
}

func TestServeConfigCheck(t *testing.T) {
	t.Parallel()
	valid := serveConfig{demo: true, profile: verifier.ProfileAMO, logFormat: "text", storeTimeout: time.Second, memoryCapacity: 1,
		readHeaderTimeout: time.Second, readTimeout: time.Second, writeTimeout: time.Second, idleTimeout: time.Second}
	tests := []struct {
		name    string
		edit    func(*serveConfig)
		wantErr string
	}{
		{"valid", func(*serveConfig) {}, ""},
		{"keys and demo", func(c *serveConfig) { c.keysFile = "k.json" }, "exactly one of --keys FILE and --demo"},
		{"neither keys nor demo", func(c *serveConfig) { c.demo = false }, "exactly one of --keys FILE and --demo"},
		{"unknown log format", func(c *serveConfig) { c.logFormat = "xml" }, `--log-format "xml"`},
		{"reset guard with redis", func(c *serveConfig) { c.redis, c.resetGuard = "redis://r", true }, "with --redis the guard is always on"},
		{"store timeout", func(c *serveConfig) { c.storeTimeout = 0 }, "--store-timeout must be positive"},
		{"memory capacity", func(c *serveConfig) { c.memoryCapacity = -1 }, "--memory-capacity must be positive"},
		{"read header timeout", func(c *serveConfig) { c.readHeaderTimeout = 0 }, "--read-header-timeout, --read-timeout, --write-timeout and --idle-timeout must be positive"},
		{"read timeout", func(c *serveConfig) { c.readTimeout = 0 }, "must be positive"},
		{"write timeout", func(c *serveConfig) { c.writeTimeout = -time.Second }, "must be positive"},
		{"idle timeout", func(c *serveConfig) { c.idleTimeout = 0 }, "must be positive"},
		{"upstream not a URL", func(c *serveConfig) { c.upstream = "localhost:9000" }, "--upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.check()
			var ue usageError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want a usage error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestHelpListsFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	err, _, stderr := runCommand(t, "serve", "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("error %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"--addr string  $AMOJWT_ADDR", "(default 127.0.0.1:8080)", "--keys string  $AMOJWT_KEYS", "--demo  $AMOJWT_DEMO",
		"--profile amo|strict  $AMOJWT_PROFILE", "(default amo)", "--replay refuse|report|allow  $AMOJWT_REPLAY",
		"default: report with --mock-amo, refuse otherwise", "--reset-guard  $AMOJWT_RESET_GUARD",
		"--leeway duration  $AMOJWT_LEEWAY", "--max-lifetime duration  $AMOJWT_MAX_LIFETIME", "--realm string  $AMOJWT_REALM",
		"--log-format string  $AMOJWT_LOG_FORMAT", "--upstream string  $AMOJWT_UPSTREAM",
		"--trust-forwarded-headers  $AMOJWT_TRUST_FORWARDED_HEADERS", "--redis string  $AMOJWT_REDIS",
		"--redis-key-prefix string  $AMOJWT_REDIS_KEY_PREFIX", "--store-timeout duration  $AMOJWT_STORE_TIMEOUT",
		"--memory-capacity int  $AMOJWT_MEMORY_CAPACITY", "(default 1000000)",
		"--read-header-timeout duration  $AMOJWT_READ_HEADER_TIMEOUT", "(default 10s)", "--read-timeout duration  $AMOJWT_READ_TIMEOUT",
		"(default 1m0s)", "--write-timeout duration  $AMOJWT_WRITE_TIMEOUT", "--idle-timeout duration  $AMOJWT_IDLE_TIMEOUT", "(default 2m0s)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, stderr)
		}
	}
	_, stdout, _ := runCommand(t, "help", "sign")
	for _, want := range []string{"--secret string  $AMOJWT_SECRET", "--no-jti  $AMOJWT_NO_JTI", "--iat-offset duration  $AMOJWT_IAT_OFFSET"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help sign lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantText string // in the error
	}{
		{"no command", nil, 2, "no command given"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"help for an unknown command", []string{"help", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{"serve without keys", []string{"serve"}, 2, "exactly one of --keys FILE and --demo"},
		{"serve with an argument", []string{"serve", "--demo", "extra"}, 2, `unexpected argument "extra"`},
		{"sign without key", []string{"sign", "--secret", "s"}, 2, "--key is required"},
		{"sign with a bad flag", []string{"sign", "--lifetime", "forever"}, 2, "lifetime"},
		{"keys file missing", []string{"serve", "--keys", "/nonexistent/keys.json"}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _, _ := runCommand(t, tt.args...)
			var out bytes.Buffer
			if code := exitCode(err, &out); code != tt.wantCode || !strings.Contains(out.String(), tt.wantText) {
				t.Errorf("exit %d %q, want %d and %q", code, out.String(), tt.wantCode, tt.wantText)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	err, stdout, _ := runCommand(t, "version")
	if err != nil || !strings.HasPrefix(stdout, "amojwt ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: %v %q", err, stdout)
	}
	err, stdout, _ = runCommand(t, "help")
	if err != nil || !strings.Contains(stdout, "serve ") || !strings.Contains(stdout, "sign ") {
		t.Errorf("help: %v %q", err, stdout)
	}
	if code := exitCode(flag.ErrHelp, &bytes.Buffer{}); code != 0 {
		t.Errorf("exit code for --help is %d, want 0", code)
	}
}

func TestProgramName(t *testing.T) {
	t.Parallel()
	tests := []struct{ arg0, want string }{
		{"/tmp/go-build2818/b001/exe/amojwt", "go run ./cmd/amojwt"},
		{"amojwt", "amojwt"},
		{"./bin/amojwt", "./bin/amojwt"},
	}
	for _, tt := range tests {
		if got := programName(tt.arg0); got != tt.want {
			t.Errorf("programName(%q) = %q, want %q", tt.arg0, got, tt.want)
		}
	}
}
