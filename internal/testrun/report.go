package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/amojwt/amojwt/internal/testtool"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent; the
// build-output and build-fail actions carry ImportPath instead of Package).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// testKey names a test (or subtest) of a package.
type testKey struct{ pkg, test string }

// need is a missing tool and the tests that did not run for want of it.
type need struct {
	testtool.Missing
	tests int
	pkgs  []string // in the order first seen
}

// report prints go test's events as go test prints them without -v and
// collects the summary: counts, and the tools tests lacked.
type report struct {
	w      io.Writer
	module string // stripped from package paths in the summary
	// running holds the output of each test that has not ended: printed
	// only if it fails.
	running map[testKey][]string
	// pkgOutput holds each package's own output until it ends.
	pkgOutput                map[string][]string
	passed, failed, skipped  int
	otherSkips, failedBuilds int
	needs                    []*need // in the order first seen
}

func newReport(w io.Writer, module string) *report {
	return &report{w: w, module: module, running: map[testKey][]string{}, pkgOutput: map[string][]string{}}
}

// line takes one line of go test -json's output.
func (r *report) line(s string) {
	var e event
	if !strings.HasPrefix(s, "{") || json.Unmarshal([]byte(s), &e) != nil {
		fmt.Fprint(r.w, s)
		return
	}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Action == "build-fail":
		r.failedBuilds++
	case e.Test != "":
		r.testEvent(e)
	default:
		r.packageEvent(e)
	}
}

// framing reports whether an output line is test2json's framing, which go
// test without -v does not print.
func framing(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (r *report) testEvent(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "output":
		if !framing(e.Output) {
			r.running[k] = append(r.running[k], e.Output)
		}
	case "pass":
		r.passed++
		delete(r.running, k)
	case "skip":
		r.skipped++
		if !r.lacked(e.Package, r.running[k]) {
			r.otherSkips++
		}
		delete(r.running, k)
	case "fail":
		r.failed++
		r.lacked(e.Package, r.running[k])
		r.printTest(r.running[k])
		delete(r.running, k)
	}
}

// printTest prints the output of a failed test, its "--- FAIL" line first
// as go test prints it.
func (r *report) printTest(lines []string) {
	for _, l := range lines {
		if strings.HasPrefix(l, "--- ") {
			fmt.Fprint(r.w, l)
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "--- ") {
			fmt.Fprint(r.w, l)
		}
	}
}

// lacked records the tools a test's output says it lacked, and reports
// whether it named any.
func (r *report) lacked(pkg string, lines []string) bool {
	missing := testtool.Parse(strings.Join(lines, ""))
	for _, m := range missing {
		i := slices.IndexFunc(r.needs, func(n *need) bool { return n.What == m.What })
		if i < 0 {
			i = len(r.needs)
			r.needs = append(r.needs, &need{Missing: m})
		}
		n := r.needs[i]
		n.tests++
		if p := r.shortPath(pkg); !slices.Contains(n.pkgs, p) {
			n.pkgs = append(n.pkgs, p)
		}
	}
	return len(missing) > 0
}

// shortPath is pkg relative to the module.
func (r *report) shortPath(pkg string) string {
	if pkg == r.module {
		return "."
	}
	if p, ok := strings.CutPrefix(pkg, r.module+"/"); ok && r.module != "" {
		return p
	}
	return pkg
}

func (r *report) packageEvent(e event) {
	switch e.Action {
	case "output":
		r.pkgOutput[e.Package] = append(r.pkgOutput[e.Package], e.Output)
	case "pass", "skip":
		// go test without -v prints a passing package's "ok" (or "?"
		// when it has no tests) line only.
		for _, l := range r.pkgOutput[e.Package] {
			if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "? ") {
				fmt.Fprint(r.w, l)
			}
		}
		delete(r.pkgOutput, e.Package)
	case "fail":
		// Tests still running when their package failed (a panic, a
		// timeout) failed with it: print what they printed.
		for k, lines := range r.running {
			if k.pkg == e.Package {
				r.failed++
				r.printTest(lines)
				delete(r.running, k)
			}
		}
		for _, l := range r.pkgOutput[e.Package] {
			fmt.Fprint(r.w, l)
		}
		delete(r.pkgOutput, e.Package)
	}
}

// summary prints what did not run for lack of a tool (noRace, when not
// nil, is what -race lacked) and the closing count line; it reports
// whether the run is a success as far as the events tell: no test failed,
// no build failed, and under CI nothing was missing.
func (r *report) summary(ci bool, noRace *testtool.Missing) bool {
	if len(r.needs) > 0 || noRace != nil {
		fmt.Fprintln(r.w)
		switch {
		case ci:
			fmt.Fprintln(r.w, "Failed for lack of a tool (CI is set):")
		default:
			fmt.Fprintln(r.w, "Did not run for lack of a tool (with CI set, these fail):")
		}
		for _, n := range r.needs {
			tests := "tests"
			if n.tests == 1 {
				tests = "test"
			}
			fmt.Fprintf(r.w, "  %s: %d %s in %s\n      get it with: %s\n", n.What, n.tests, tests, strings.Join(n.pkgs, ", "), n.Get)
		}
		if noRace != nil {
			fmt.Fprintf(r.w, "  %s; every test ran without -race\n      get it with: %s\n", noRace.What, noRace.Get)
		}
	}
	if r.otherSkips > 0 {
		fmt.Fprintf(r.w, "Skipped by design: %d (go test -v shows why).\n", r.otherSkips)
	}
	fmt.Fprintf(r.w, "tests: %d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
	return r.failed == 0 && r.failedBuilds == 0 && !(ci && noRace != nil)
}
