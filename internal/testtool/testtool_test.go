package testtool_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/internal/testtool"
)

func ExampleMessage() {
	fmt.Println(testtool.Message(
		testtool.Missing{What: "redis-server", Get: "apt-get install -y redis-server"},
		testtool.Missing{What: "/usr/bin/python3 with the jwt module (python3-jwt)", Get: "apt-get install -y python3-jwt"},
	))
	// Output:
	// tool missing: redis-server (get it with: apt-get install -y redis-server); tool missing: /usr/bin/python3 with the jwt module (python3-jwt) (get it with: apt-get install -y python3-jwt)
}

func TestParse(t *testing.T) {
	t.Parallel()
	redis := testtool.Missing{What: "redis-server", Get: "apt-get install -y redis-server"}
	jose := testtool.Missing{What: "integration/node_modules/jose", Get: "cd integration && npm ci"}
	python := testtool.Missing{What: "/usr/bin/python3 with the jwt module (python3-jwt)", Get: "apt-get install -y python3-jwt"}
	tests := []struct {
		name string
		text string
		want []testtool.Missing
	}{
		{"none", "    x_test.go:12: fills a million nonces\n", nil},
		{"one, as a skip prints it", "    server.go:137: " + testtool.Message(redis) + "; set CI to make this a failure\n", []testtool.Missing{redis}},
		{"several in one message", testtool.Message(jose, python, redis), []testtool.Missing{jose, python, redis}},
		{"several lines", testtool.Message(redis) + "\n--- SKIP: TestX (0.00s)\n" + testtool.Message(jose) + "\n", []testtool.Missing{redis, jose}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := testtool.Parse(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

func TestProgram(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "present")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	want := testtool.Message(testtool.Missing{What: "absent", Get: "apt-get install -y absent"})
	tests := []struct {
		name               string
		ci                 string
		program            string
		paths              []string
		wantPath           string
		wantSkip, wantFail string // prefixes of the messages
	}{
		{name: "on PATH", program: "present", wantPath: present},
		{name: "at a given path", program: "absent", paths: []string{filepath.Join(dir, "nope"), present}, wantPath: present},
		{name: "missing: skip", program: "absent", wantSkip: want + "; set CI"},
		{name: "missing under CI: failure", ci: "true", program: "absent", wantFail: want + "; CI is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			got := testtool.Program(r, tt.program, "apt-get install -y "+tt.program, tt.paths...)
			if got != tt.wantPath || !strings.HasPrefix(r.skipped, tt.wantSkip) || !strings.HasPrefix(r.failed, tt.wantFail) ||
				(tt.wantSkip == "") != (r.skipped == "") || (tt.wantFail == "") != (r.failed == "") {
				t.Errorf("path %q, skip %q, fail %q; want %q, %q, %q", got, r.skipped, r.failed, tt.wantPath, tt.wantSkip, tt.wantFail)
			}
		})
	}
}
