package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/internal/testtool"
)

// writeModule writes a module "fake" whose tests pass, fail, skip for lack
// of a tool, skip by design, and fail to build, to a new directory.
func writeModule(t *testing.T) string {
	t.Helper()
	redis := testtool.Message(testtool.Missing{What: "redis-server", Get: "apt-get install -y redis-server"})
	node := testtool.Message(testtool.Missing{What: "node", Get: "apt-get install -y nodejs npm"},
		testtool.Missing{What: "integration/node_modules/jose", Get: "cd integration && npm ci"})
	files := map[string]string{
		"go.mod":        "module fake\n\ngo 1.22\n",
		"a/a.go":        "package a\n",
		"a/a_test.go":   "package a\n\nimport \"testing\"\n\nfunc TestPass(t *testing.T) {}\n\nfunc TestRedis(t *testing.T) { t.Skip(\"" + redis + "; set CI\") }\n",
		"b/b.go":        "package b\n",
		"b/b_test.go":   "package b\n\nimport \"testing\"\n\nfunc TestFail(t *testing.T) {\n\tt.Log(\"before\")\n\tt.Error(\"boom\")\n}\n\nfunc TestByDesign(t *testing.T) { t.Skip(\"fills a million nonces\") }\n\nfunc TestSub(t *testing.T) {\n\tt.Run(\"node\", func(t *testing.T) { t.Skip(\"" + node + "\") })\n\tt.Run(\"redis\", func(t *testing.T) { t.Skip(\"" + redis + "\") })\n}\n",
		"c/c.go":        "package c\n",
		"d/d.go":        "package d\n",
		"d/d_test.go":   "package d\n\nfunc TestBroken(t *testing.T) { undefined() }\n",
		"e/e_test.go":   "package e\n\nimport \"testing\"\n\nfunc TestPanic(t *testing.T) { panic(\"crash\") }\n",
		"e/e.go":        "package e\n",
		"a/doc_test.go": "package a\n",
	}
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRun runs the real go test on the fake module and checks what a user
// reads: go test's lines, the failures, the summary and the exit status.
func TestRun(t *testing.T) {
	t.Chdir(writeModule(t))
	t.Setenv("CI", "")
	t.Setenv("GOFLAGS", "-mod=mod")
	var stdout, stderr strings.Builder
	code := run([]string{"./..."}, &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{
		"ok  \tfake/a\t",
		"?   \tfake/c\t[no test files]\n",
		"--- FAIL: TestFail (",
		"b_test.go:6: before\n",
		"b_test.go:7: boom\n",
		"FAIL\tfake/b\t",
		"d_test.go:3:",
		"FAIL\tfake/d [build failed]\n",
		"panic: crash",
		"FAIL\tfake/e\t",
		"Did not run for lack of a tool (with CI set, these fail):\n" +
			"  redis-server: 2 tests in fake/a, fake/b\n" +
			"      get it with: apt-get install -y redis-server\n" +
			"  node: 1 test in fake/b\n" +
			"      get it with: apt-get install -y nodejs npm\n" +
			"  integration/node_modules/jose: 1 test in fake/b\n" +
			"      get it with: cd integration && npm ci\n",
		"Skipped by design: 1 (go test -v shows why).\n",
		"tests: 2 passed, 2 failed, 4 skipped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, out, stderr.String())
		}
	}
	for _, unwant := range []string{"=== RUN", "--- PASS", "--- SKIP", "fills a million nonces", "PASS\n"} {
		if strings.Contains(out, unwant) {
			t.Errorf("output has %q, which go test without -v does not print:\n%s", unwant, out)
		}
	}
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.HasSuffix(out, "tests: 2 passed, 2 failed, 4 skipped\n") {
		t.Errorf("the count is not the last line:\n%s", out)
	}
}

// TestSummaryExit checks when the summary calls a run a failure.
func TestSummaryExit(t *testing.T) {
	t.Parallel()
	noRace := &testtool.Missing{What: "the race detector: no C compiler, so cgo is off", Get: "apt-get install -y gcc libc6-dev"}
	pass := `{"Action":"pass","Package":"m/p","Test":"TestA"}`
	fail := `{"Action":"fail","Package":"m/p","Test":"TestA"}`
	buildFail := `{"ImportPath":"m/p [m/p.test]","Action":"build-fail"}`
	tests := []struct {
		name   string
		events []string
		ci     bool
		noRace *testtool.Missing
		want   bool
		text   string
	}{
		{"all passed", []string{pass}, false, nil, true, "tests: 1 passed, 0 failed, 0 skipped\n"},
		{"a test failed", []string{fail}, false, nil, false, "tests: 0 passed, 1 failed, 0 skipped\n"},
		{"a build failed", []string{buildFail}, false, nil, false, "tests: 0 passed, 0 failed, 0 skipped\n"},
		{"no race detector", []string{pass}, false, noRace, true, "  the race detector: no C compiler, so cgo is off; every test ran without -race\n      get it with: apt-get install -y gcc libc6-dev\n"},
		{"no race detector under CI", []string{pass}, true, noRace, false, "Failed for lack of a tool (CI is set):\n  the race detector"},
		{"under CI with everything", []string{pass}, true, nil, true, "tests: 1 passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			r := newReport(&b, "m")
			for _, e := range tt.events {
				r.line(e + "\n")
			}
			if got := r.summary(tt.ci, tt.noRace); got != tt.want || !strings.Contains(b.String(), tt.text) {
				t.Errorf("summary %v, want %v, with %q in:\n%s", got, tt.want, tt.text, b.String())
			}
		})
	}
}

func TestShortPath(t *testing.T) {
	t.Parallel()
	r := newReport(nil, "github.com/amojwt/amojwt")
	tests := []struct{ pkg, want string }{
		{"github.com/amojwt/amojwt", "."},
		{"github.com/amojwt/amojwt/cmd/amojwt", "cmd/amojwt"},
		{"github.com/amojwt/amojwtx", "github.com/amojwt/amojwtx"},
		{"fake/a", "fake/a"},
	}
	for _, tt := range tests {
		if got := r.shortPath(tt.pkg); got != tt.want {
			t.Errorf("shortPath(%q) = %q, want %q", tt.pkg, got, tt.want)
		}
	}
}
