// Command amojwt verifies addons.mozilla.org (AMO) API JWTs and serves a
// mock of the AMO API that checks them as AMO does, plus a forward-auth
// endpoint for reverse proxies.
//
// Usage:
//
//	amojwt serve --demo                      # mock AMO with a built-in demo key
//	amojwt serve --keys keys.json            # with your keys (docs/ARCHITECTURE.md, "Keys file")
//	amojwt sign --key K --secret S           # print a token for K
//	amojwt inspect TOKEN --secret S          # why is TOKEN accepted or refused?
//	amojwt keygen --keys keys.json           # a new API key and secret, added to keys.json
//	amojwt version
//	amojwt help [command]
//
// A command's flags may come before or after its arguments (`amojwt inspect
// TOKEN --keys F`), with the value separate or joined (--keys=F); a boolean
// flag takes no separate value (--demo, --demo=false), and -- ends the flags.
// Every flag can also be set with an environment variable: AMOJWT_ and the
// flag's name in capitals with dashes as underscores (--max-lifetime is
// AMOJWT_MAX_LIFETIME). A flag on the command line wins over the
// environment. `amojwt <command> --help` lists both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// rootName is the name of the program's own command, and of its help's
// examples.
const rootName = "amojwt"

// envPrefix is the prefix of the environment variables that set flags.
const envPrefix = "AMOJWT"

// env is what a run of the program talks to, so tests can run it in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// program is how a user runs this program again, for the commands it
	// prints: "go run ./cmd/amojwt" under go run, else os.Args[0].
	program string
	// listening, when set, is called by serve with the address it accepts
	// connections on.
	listening func(addr string)
}

// usageError is a mistake in the command line or the AMOJWT_*
// environment: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, program: programName(os.Args[0])}
	err := run(ctx, os.Args[1:], e)
	stop()
	os.Exit(exitCode(err, e.stderr))
}

// exitCode reports err on w and returns the process exit status: 0 for
// success or requested help, 2 for a usage error, 1 for anything else
// (silently for a token inspect refused: its verdict is printed).
func exitCode(err error, w io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errNotAccepted):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintln(w, "amojwt:", err)
		return 2
	}
	fmt.Fprintln(w, "amojwt:", err)
	return 1
}

// programName is how to run this program again: a binary that go run built
// in a temporary directory is "go run ./cmd/amojwt".
func programName(arg0 string) string {
	if strings.Contains(filepath.ToSlash(arg0), "/go-build") {
		return "go run ./cmd/amojwt"
	}
	return arg0
}

// run parses args (without the program name) and runs the command they
// name until it finishes or ctx is done.
func run(ctx context.Context, args []string, e env) error {
	root := newRootCommand(e)
	if err := parse(root, args, e.stderr); err != nil {
		return err
	}
	return root.Run(ctx)
}

// parse parses args for root and the subcommand args name, whose flags may
// come before, after or between its arguments (flagsFirst). For --help it
// prints the help of that command on w and returns flag.ErrHelp; a bad
// flag or AMOJWT_* variable is a usageError that says what to type.
func parse(root *ffcli.Command, args []string, w io.Writer) error {
	cmd := root
	if len(args) > 0 {
		for _, c := range root.Subcommands {
			if strings.EqualFold(args[0], c.Name) {
				cmd = c
				args = append([]string{args[0]}, flagsFirst(c.FlagSet, args[1:])...)
			}
		}
	}
	err := root.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(w, usage(cmd))
		return err
	}
	return usageError{flagError(cmd.Name, cmd.FlagSet, err)}
}

func newRootCommand(e env) *ffcli.Command {
	fs := newFlagSet(rootName)
	root := &ffcli.Command{
		Name:       rootName,
		ShortUsage: "amojwt <command> [flags]",
		LongHelp: "amojwt verifies addons.mozilla.org API JWTs (Authorization: JWT <token>)\n" +
			"and serves a mock AMO API that answers as addons.mozilla.org does.",
		FlagSet:   fs,
		Options:   parseOptions,
		UsageFunc: usage,
	}
	serveCmd := newServeCommand(func(ctx context.Context, c *serveConfig) error { return serve(ctx, c, e) })
	signCmd := newSignCommand(func(_ context.Context, c *signConfig) error { return c.print(e.stdout, time.Now()) })
	inspectCmd := newInspectCommand(func(ctx context.Context, c *inspectConfig, token string) error {
		return runInspect(ctx, c, token, e, time.Now())
	})
	versionCmd := &ffcli.Command{
		Name:       "version",
		ShortUsage: "amojwt version",
		ShortHelp:  "print the version of amojwt and of Go",
		FlagSet:    newFlagSet("version"),
		Options:    parseOptions,
		UsageFunc:  usage,
		Exec: func(_ context.Context, args []string) error {
			if err := noArgs("version", args); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, versionString())
			return nil
		},
	}
	helpCmd := &ffcli.Command{
		Name:       "help",
		ShortUsage: "amojwt help [command]",
		ShortHelp:  "print the usage of amojwt or of one command",
		FlagSet:    newFlagSet("help"),
		Options:    parseOptions,
		UsageFunc:  usage,
	}
	keygenCmd := newKeygenCommand(func(_ context.Context, c *keygenConfig) error { return runKeygen(c, e.stdout) })
	root.Subcommands = []*ffcli.Command{serveCmd, signCmd, inspectCmd, keygenCmd, versionCmd, helpCmd}
	helpCmd.Exec = func(_ context.Context, args []string) error {
		target := root
		if len(args) > 1 {
			return usageError{fmt.Sprintf("help: give at most one command, not %d%s", len(args), forExample("help"))}
		}
		if len(args) > 0 {
			target = nil
			for _, c := range root.Subcommands {
				if strings.EqualFold(c.Name, args[0]) {
					target = c
				}
			}
			if target == nil {
				return usageError{fmt.Sprintf("help: unknown command %q%s", args[0], forExample("help"))}
			}
		}
		fmt.Fprint(e.stdout, usage(target))
		return nil
	}
	root.Exec = func(_ context.Context, args []string) error {
		fmt.Fprint(e.stderr, usage(root))
		if len(args) == 0 {
			return usageError{"no command given" + forExample(rootName)}
		}
		return usageError{fmt.Sprintf("unknown command %q%s", args[0], forExample(rootName))}
	}
	return root
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints nothing: run prints the help a user asked for and a short usage
// error instead of the whole help after a mistake.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseOptions are the ff options of every command: flags also come from
// AMOJWT_* environment variables.
var parseOptions = []ff.Option{ff.WithEnvVarPrefix(envPrefix)}

// envVar is the environment variable that sets the flag name.
func envVar(name string) string {
	return envPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}

// usage is the help text of c: ffcli's layout, with each flag's environment
// variable beside it.
func usage(c *ffcli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "USAGE\n  %s\n\n", c.ShortUsage)
	if c.LongHelp != "" {
		fmt.Fprintf(&b, "%s\n\n", c.LongHelp)
	} else if c.ShortHelp != "" {
		fmt.Fprintf(&b, "%s\n\n", c.ShortHelp)
	}
	if len(c.Subcommands) > 0 {
		b.WriteString("COMMANDS\n")
		tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
		for _, s := range c.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.ShortHelp)
		}
		tw.Flush()
		b.WriteString("\nRun `amojwt help <command>` for a command's flags.\n")
	}
	n := 0
	c.FlagSet.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("FLAGS (before or after the arguments; --flag value or --flag=value; -- ends the flags;\n" +
			"each also read from the environment variable shown)\n")
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			arg, text := flag.UnquoteUsage(f)
			if arg != "" {
				arg = " " + arg
			}
			fmt.Fprintf(&b, "  --%s%s  $%s\n      %s", f.Name, arg, envVar(f.Name), text)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
				fmt.Fprintf(&b, " (default %s)", f.DefValue)
			}
			b.WriteString("\n")
		})
	}
	if ex := examples[c.Name]; len(ex) > 0 {
		b.WriteString("\nEXAMPLES\n")
		for _, x := range ex {
			fmt.Fprintf(&b, "  %s\n      %s\n", x.line, x.what)
		}
	}
	return b.String()
}

// versionString is "amojwt <module version> <vcs revision> <go version>".
func versionString() string {
	version, revision := "(unknown)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = " " + s.Value
			}
		}
	}
	return fmt.Sprintf("amojwt %s%s %s %s/%s", version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
