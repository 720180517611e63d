package main

import (
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// boolFlag is the interface the flag package uses to tell a boolean flag,
// which takes no separate value (--demo, --demo=false), from the others,
// which take the next argument when their value is not joined with "="
// (--keys F, --keys=F).
type boolFlag interface {
	flag.Value
	IsBoolFlag() bool
}

// flagsFirst returns args reordered so that fs.Parse sees every flag:
// the flags of fs and their values first, in their order, then "--" and
// the other arguments, in their order. The flag package stops at the first
// argument that is not a flag, so without this `inspect TOKEN --keys F`
// would take --keys as a second argument.
//
// It reads args as the flag package does: "-" alone is an argument; "-x"
// and "--x" are the same flag; a flag that is not boolean takes the next
// argument as its value unless its value is joined (--x=v), even when that
// argument starts with "-" (--iat-offset -10m); "--" ends the flags, and
// everything after it is an argument. An unknown flag is kept with the
// flags, taking no value, so that fs.Parse reports it.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			rest = append(rest, arg)
			continue
		}
		flags = append(flags, arg)
		name := strings.TrimPrefix(arg[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(boolFlag); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(rest) == 0 {
		return flags
	}
	return append(append(flags, "--"), rest...)
}

// The messages of the flag package and of ff.Parse that flagError
// rewrites, with the flag's name (and the environment variable) as
// submatches.
var (
	badFlagValue = regexp.MustCompile(`(?s)^error parsing commandline arguments: invalid (?:boolean )?value (".*?") for (?:flag )?-([^\s:]+): (.*)$`)
	badEnvValue  = regexp.MustCompile(`(?s)^error parsing environment variables: error setting flag "([^"]+)" from environment variable "([^"]+)": (.*)$`)
	noFlagValue  = regexp.MustCompile(`^error parsing commandline arguments: flag needs an argument: -(.+)$`)
	unknownFlag  = regexp.MustCompile(`^error parsing commandline arguments: flag provided but not defined: -(.+)$`)
)

// flagError is the usage error text for err, the error of parsing the
// command line or the environment of the command name with fs: which flag
// or variable is wrong, what it wants, and what to type instead. A message
// it does not know is kept whole.
func flagError(name string, fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := badFlagValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("--%s %s: %s", m[2], m[1], wantValue(fs.Lookup(m[2]), m[3]))
	} else if m := badEnvValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("$%s (--%s): %s", m[2], m[1], wantValue(fs.Lookup(m[1]), m[3]))
	} else if m := noFlagValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("--%s needs a value: --%s VALUE or --%s=VALUE", m[1], m[1], m[1])
	} else if m := unknownFlag.FindStringSubmatch(msg); m != nil && name == rootName {
		return fmt.Sprintf("unknown flag --%s: a command's flags follow the command (amojwt help lists the commands)%s", m[1], forExample(name))
	} else if m != nil {
		msg = fmt.Sprintf("unknown flag --%s (amojwt help %s lists them)", m[1], name)
	}
	return name + ": " + msg + forExample(name)
}

// wantValue says what kind of value f takes when the flag package's cause
// ("parse error") does not: for booleans, durations and numbers; else it
// is the cause, the flag's own error (an unknown profile).
func wantValue(f *flag.Flag, cause string) string {
	if f == nil {
		return cause
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "want true or false"
		case time.Duration:
			return "want a duration such as 90s, 5m or 1h30m"
		case int, int64, uint, uint64:
			return "want a whole number"
		}
	}
	return cause
}

// noArgs is the Exec check of a command that takes no arguments. After a
// boolean flag, "true" or "false" is an argument, not its value: the usage
// error says so.
func noArgs(name string, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := ""
	if _, err := strconv.ParseBool(args[0]); err == nil {
		hint = " (a boolean flag takes its value joined: --flag=" + args[0] + ")"
	}
	return usageError{fmt.Sprintf("%s: unexpected argument %q%s: %s takes no arguments%s", name, args[0], hint, name, forExample(name))}
}
