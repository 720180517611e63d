// Command testrun runs the project's tests, the README's test command:
//
//	go run ./internal/testrun [go test flags and packages; default ./...]
//
// It runs `go test -race -json`, prints what go test prints without -v
// (a line per package, and the output of each failed test), then ends with
// what did not run for lack of a tool and the command that gets each tool,
// and a closing line "tests: N passed, N failed, N skipped". Tests that
// lack a tool say so through internal/testtool, whose messages it reads.
//
// The race detector needs cgo, which needs a C compiler: without one, the
// tests run without -race and the summary says so. With the environment
// variable CI set, that is a failure, as is a test whose tool is missing
// (internal/testtool fails it instead of skipping). The exit status is 0
// only when go test passed and nothing failed.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/amojwt/amojwt/internal/testtool"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs go test with args (./... when none) and reports on stdout; it
// returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ci := os.Getenv("CI") != ""
	noRace := raceMissing()
	goArgs := []string{"test", "-json"}
	if noRace == nil {
		goArgs = append(goArgs, "-race")
	}
	if len(args) == 0 {
		args = []string{"./..."}
	}
	goArgs = append(goArgs, args...)
	fmt.Fprintf(stdout, "go %s\n", strings.Join(goArgs, " "))
	if noRace == nil {
		fmt.Fprintln(stdout, "(a first run builds every package with -race: minutes without output)")
	}

	cmd := exec.Command("go", goArgs...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testrun:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testrun:", err)
		return 1
	}
	// Ctrl-C reaches go test too, from the terminal: let it stop and
	// report what ran. SIGTERM is passed on.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		for sig := range signals {
			if sig == syscall.SIGTERM {
				_ = cmd.Process.Signal(sig)
			}
		}
	}()
	r := newReport(stdout, modulePath())
	if err := r.read(out); err != nil {
		fmt.Fprintln(stderr, "testrun: reading go test's output:", err)
	}
	waitErr := cmd.Wait()
	ok := r.summary(ci, noRace)
	var exit *exec.ExitError
	switch {
	case waitErr != nil && !errors.As(waitErr, &exit):
		fmt.Fprintln(stderr, "testrun:", waitErr)
		return 1
	case waitErr != nil || !ok:
		return 1
	}
	return 0
}

// raceMissing returns what the race detector lacks, nil when go test can
// use -race: it needs cgo, which the go command turns off when it finds no
// C compiler (or CGO_ENABLED=0 says so).
func raceMissing() *testtool.Missing {
	out, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	if err == nil && strings.TrimSpace(string(out)) == "1" {
		return nil
	}
	if os.Getenv("CGO_ENABLED") == "0" {
		return &testtool.Missing{What: "the race detector: CGO_ENABLED=0 turns cgo off", Get: "unset CGO_ENABLED"}
	}
	return &testtool.Missing{What: "the race detector: no C compiler, so cgo is off", Get: "apt-get install -y gcc libc6-dev"}
}

// modulePath is the path of this module, which the summary strips from
// package paths.
func modulePath() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.Main.Path
	}
	return ""
}

// read feeds every line of go test -json's output to r; a line that is not
// an event is printed as it is.
func (r *report) read(in io.Reader) error {
	br := bufio.NewReader(in)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			r.line(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
