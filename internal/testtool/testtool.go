// Package testtool is how a test says that a program or package it needs
// is not installed: it skips with a message of one recognisable form, or
// fails when the environment variable CI is set, so that CI never passes
// by skipping. The test runner (internal/testrun) reads these messages back
// with Parse and ends its run with what did not run and how to get it.
package testtool

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Missing is something a test needs that is not installed.
type Missing struct {
	// What names it: a program ("redis-server"), a file
	// ("integration/node_modules/jose"), a module ("/usr/bin/python3 with
	// the jwt module (python3-jwt)").
	What string
	// Get is the command that installs it, e.g. "apt-get install -y
	// redis-server". It has no ")" (Parse ends it at the first one).
	Get string
}

// Message is the text Skip reports for missing: "tool missing: WHAT (get it
// with: GET)" for each, joined by "; ".
func Message(missing ...Missing) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = "tool missing: " + m.What + " (get it with: " + m.Get + ")"
	}
	return strings.Join(parts, "; ")
}

// messagePart matches one Missing in a Message: What may hold parentheses,
// Get may not.
var messagePart = regexp.MustCompile(`tool missing: (.+?) \(get it with: ([^)]+)\)`)

// Parse returns the Missing of every Message in text (a test's output), in
// order; none when it has none.
func Parse(text string) []Missing {
	var out []Missing
	for _, m := range messagePart.FindAllStringSubmatch(text, -1) {
		out = append(out, Missing{What: m[1], Get: m[2]})
	}
	return out
}

// Skip skips t for want of missing, or fails it when the environment
// variable CI is set. It does nothing when missing is empty.
func Skip(t testing.TB, missing ...Missing) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	msg := Message(missing...)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so this is a failure, not a skip")
	} else {
		t.Skip(msg + "; set CI to make this a failure")
	}
}

// Program returns the path of the program name, found on PATH or at the
// first of paths that exists, or skips t (fails it under CI) with get as
// the command that installs it.
func Program(t testing.TB, name, get string, paths ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Skip(t, Missing{What: name, Get: get})
	return ""
}
