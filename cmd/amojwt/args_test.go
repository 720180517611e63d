package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/jwttest"
)

func TestFlagsFirst(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("keys", "", "")
	fs.Duration("iat-offset", 0, "")
	fs.Bool("demo", false, "")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"nothing", nil, nil},
		{"flags only", []string{"--keys", "f", "--demo"}, []string{"--keys", "f", "--demo"}},
		{"argument only", []string{"tok"}, []string{"--", "tok"}},
		{"flags after the argument", []string{"tok", "--keys", "f"}, []string{"--keys", "f", "--", "tok"}},
		{"flags around the arguments", []string{"--demo", "a", "--keys", "f", "b"}, []string{"--demo", "--keys", "f", "--", "a", "b"}},
		{"joined value", []string{"a", "--keys=f"}, []string{"--keys=f", "--", "a"}},
		{"joined value with =", []string{"a", "--keys=x=y"}, []string{"--keys=x=y", "--", "a"}},
		{"single dash", []string{"a", "-keys", "f"}, []string{"-keys", "f", "--", "a"}},
		{"a value that starts with a dash", []string{"a", "--iat-offset", "-10m"}, []string{"--iat-offset", "-10m", "--", "a"}},
		{"a value that is --", []string{"--keys", "--", "a"}, []string{"--keys", "--", "--", "a"}},
		{"boolean flag takes no separate value", []string{"--demo", "false"}, []string{"--demo", "--", "false"}},
		{"boolean flag joined", []string{"a", "--demo=false"}, []string{"--demo=false", "--", "a"}},
		{"-- ends the flags", []string{"a", "--", "--keys", "f"}, []string{"--", "a", "--keys", "f"}},
		{"- is an argument", []string{"-", "--keys", "f"}, []string{"--keys", "f", "--", "-"}},
		{"unknown flag takes no value", []string{"a", "--nope", "b"}, []string{"--nope", "--", "a", "b"}},
		{"flag without its value", []string{"a", "--keys"}, []string{"--keys", "--", "a"}},
		{"help after the argument", []string{"a", "--help"}, []string{"--help", "--", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := flagsFirst(fs, tt.args); !slices.Equal(got, tt.want) {
				t.Errorf("flagsFirst(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

// claims returns the claims JSON of a token printed by sign.
func claims(t *testing.T, stdout string) string {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(stdout), ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCommandArguments runs every command as a user would, with flags
// before, after and between its arguments, joined and separate values,
// boolean flags, --, and the environment. Rows with env are not parallel.
func TestCommandArguments(t *testing.T) {
	const keys = inspectKeys
	at := inspectAt
	tok := jwttest.Sign(inspectHeader, `{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`, []byte(demoSecret))
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		stdin    string
		wantCode int
		want     []string // each in stdout (for sign: the token's claims), stderr or the exit message
	}{
		{name: "sign: flags", args: []string{"sign", "--key", demoIssuer, "--secret", demoSecret, "--jti", "a"}, want: []string{`"iss":"user:543210:23","jti":"a"`}},
		{name: "sign: joined values", args: []string{"sign", "--key=" + demoIssuer, "--secret=" + demoSecret, "--jti=a=b"}, want: []string{`"jti":"a=b"`}},
		{name: "sign: single dashes", args: []string{"sign", "-key", demoIssuer, "-secret=" + demoSecret, "-jti", "c"}, want: []string{`"jti":"c"`}},
		{name: "sign: boolean flag before others", args: []string{"sign", "--no-jti", "--key", demoIssuer, "--secret", demoSecret}, want: []string{`{"iss":"user:543210:23","iat":`}},
		{name: "sign: boolean flag joined", args: []string{"sign", "--no-jti=false", "--key", demoIssuer, "--secret", demoSecret, "--jti", "d"}, want: []string{`"jti":"d"`}},
		{name: "sign: negative duration value", args: []string{"sign", "--key", demoIssuer, "--secret", demoSecret, "--iat-offset", "-10m", "--lifetime", "0s"}, want: []string{`"iss"`}},
		{name: "sign: environment", args: []string{"sign", "--jti", "e"}, env: map[string]string{"AMOJWT_KEY": demoIssuer, "AMOJWT_SECRET": demoSecret}, want: []string{`"iss":"user:543210:23","jti":"e"`}},
		{name: "sign: command line wins over environment", args: []string{"sign", "--jti=cli"}, env: map[string]string{"AMOJWT_KEY": demoIssuer, "AMOJWT_SECRET": demoSecret, "AMOJWT_JTI": "env"}, want: []string{`"jti":"cli"`}},
		{name: "sign: boolean flag with a separate value", args: []string{"sign", "--no-jti", "true", "--key", demoIssuer, "--secret", demoSecret}, wantCode: 2,
			want: []string{`sign: unexpected argument "true" (a boolean flag takes its value joined: --flag=true)`, "for example: amojwt sign --key"}},
		{name: "sign: a flag after --", args: []string{"sign", "--key", demoIssuer, "--secret", demoSecret, "--", "--jti"}, wantCode: 2, want: []string{`unexpected argument "--jti"`}},
		{name: "sign: flag without its value", args: []string{"sign", "--secret", "s", "--key"}, wantCode: 2, want: []string{"sign: --key needs a value: --key VALUE or --key=VALUE; for example: amojwt sign"}},
		{name: "sign: bad duration", args: []string{"sign", "--lifetime", "5"}, wantCode: 2, want: []string{`sign: --lifetime "5": want a duration such as 90s`}},
		{name: "sign: bad environment value", args: []string{"sign"}, env: map[string]string{"AMOJWT_LIFETIME": "long"}, wantCode: 2, want: []string{"sign: $AMOJWT_LIFETIME (--lifetime): want a duration"}},
		{name: "sign: bad boolean", args: []string{"sign", "--no-jti=maybe"}, wantCode: 2, want: []string{`sign: --no-jti "maybe": want true or false`}},
		{name: "inspect: bad profile after the token", args: []string{"inspect", tok, "--profile", "lax"}, wantCode: 2, want: []string{`inspect: --profile "lax": `, `unknown profile "lax"`}},
		{name: "inspect: bad profile in the environment", args: []string{"inspect", tok}, env: map[string]string{"AMOJWT_PROFILE": "lax"}, wantCode: 2,
			want: []string{`inspect: $AMOJWT_PROFILE (--profile): `, `unknown profile "lax"`}},
		{name: "sign: unknown flag", args: []string{"sign", "--kye", "k"}, wantCode: 2, want: []string{"sign: unknown flag --kye (amojwt help sign lists them)"}},

		{name: "inspect: flags before the token", args: []string{"inspect", "--at", at, "--keys", keys, tok}, want: []string{"verdict: ACCEPTED"}},
		{name: "inspect: flags after the token", args: []string{"inspect", tok, "--keys", keys, "--at", at}, want: []string{"verdict: ACCEPTED"}},
		{name: "inspect: mixed and joined", args: []string{"inspect", "--at=" + at, tok, "--keys=" + keys}, want: []string{"verdict: ACCEPTED"}},
		{name: "inspect: -- before the token", args: []string{"inspect", "--keys", keys, "--at", at, "--", tok}, want: []string{"verdict: ACCEPTED"}},
		{name: "inspect: - reads standard input", args: []string{"inspect", "-", "--keys", keys, "--at", at}, stdin: tok + "\n", want: []string{"verdict: ACCEPTED"}},
		{name: "inspect: environment", args: []string{"inspect", tok}, env: map[string]string{"AMOJWT_KEYS": keys, "AMOJWT_AT": at}, want: []string{"verdict: ACCEPTED"}},
		{name: "inspect: refused, flags after the token", args: []string{"inspect", tok, "--keys", keys, "--at", "1700000100"}, wantCode: 1,
			want: []string{`verdict: REFUSED at row 9: serve answers 401 {"detail":"Signature has expired."}`}},
		{name: "inspect: two tokens", args: []string{"inspect", tok, "--keys", keys, tok}, wantCode: 2,
			want: []string{"inspect: give exactly one TOKEN", "for example: amojwt inspect --keys keys.json eyJ..."}},
		{name: "inspect: no token", args: []string{"inspect", "--keys", keys}, wantCode: 2, want: []string{"inspect: give exactly one TOKEN"}},
		{name: "inspect: flags after -- are arguments", args: []string{"inspect", tok, "--", "--keys", keys}, wantCode: 2, want: []string{"give exactly one TOKEN"}},
		{name: "inspect: --help after the token", args: []string{"inspect", tok, "--help"}, want: []string{"USAGE\n  amojwt inspect", "EXAMPLES\n  amojwt inspect --keys keys.json eyJ..."}},

		{name: "keygen: flags", args: []string{"keygen", "--user-id", "5", "--key-number", "7"}, want: []string{"key:    user:5:7\n"}},
		{name: "keygen: joined and single dash", args: []string{"keygen", "--user-id=5", "-key-number=7"}, want: []string{"key:    user:5:7\n"}},
		{name: "keygen: environment", args: []string{"keygen", "--key-number", "7"}, env: map[string]string{"AMOJWT_USER_ID": "5"}, want: []string{"key:    user:5:7\n"}},
		{name: "keygen: argument", args: []string{"keygen", "extra", "--user-id", "5"}, wantCode: 2,
			want: []string{`keygen: unexpected argument "extra": keygen takes no arguments; for example: amojwt keygen`}},
		{name: "keygen: bad number", args: []string{"keygen", "--user-id", "x"}, wantCode: 2, want: []string{`keygen: --user-id "x": want a whole number`}},

		{name: "serve: argument after the flags", args: []string{"serve", "--demo", "extra"}, wantCode: 2, want: []string{`serve: unexpected argument "extra"`, "for example: amojwt serve --demo"}},
		{name: "serve: help", args: []string{"serve", "--demo", "--help"}, want: []string{"EXAMPLES\n  amojwt serve --demo\n"}},

		{name: "version", args: []string{"version"}, want: []string{"amojwt ", " go1."}},
		{name: "version: argument", args: []string{"version", "now"}, wantCode: 2, want: []string{`version: unexpected argument "now"`}},
		{name: "help: a command", args: []string{"help", "keygen"}, want: []string{"EXAMPLES\n  amojwt keygen\n"}},
		{name: "help: after --", args: []string{"help", "--", "sign"}, want: []string{"USAGE\n  amojwt sign"}},
		{name: "help: two commands", args: []string{"help", "sign", "serve"}, wantCode: 2, want: []string{"help: give at most one command"}},
		{name: "help: unknown command", args: []string{"help", "sing"}, wantCode: 2, want: []string{`help: unknown command "sing"; for example: amojwt help`}},
		{name: "no command", args: nil, wantCode: 2, want: []string{"COMMANDS", "no command given; for example: amojwt serve --demo"}},
		{name: "a flag before the command", args: []string{"--demo", "serve"}, wantCode: 2,
			want: []string{"amojwt: unknown flag --demo: a command's flags follow the command (amojwt help lists the commands); for example: amojwt serve --demo"}},
		{name: "unknown command", args: []string{"srve", "--demo"}, wantCode: 2, want: []string{`unknown command "srve"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr syncBuffer
			err := run(context.Background(), tt.args, env{stdin: strings.NewReader(tt.stdin), stdout: &stdout, stderr: &stderr, program: "amojwt"})
			var msg bytes.Buffer
			code := exitCode(err, &msg)
			out := stdout.String()
			if len(tt.args) > 0 && tt.args[0] == "sign" && code == 0 {
				out = claims(t, out)
			}
			all := out + "\n" + stderr.String() + msg.String()
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d:\n%s", code, tt.wantCode, all)
			}
			for _, want := range tt.want {
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
		})
	}
}

// TestInspectTokenThenKeys is the command line a user pastes: the token
// first, then --keys, checked at this machine's clock.
func TestInspectTokenThenKeys(t *testing.T) {
	t.Parallel()
	now := time.Now().Unix()
	sign := func(iat int64) string {
		return jwttest.Sign(inspectHeader, fmt.Sprintf(`{"iss":"user:543210:23","jti":"x","iat":%d,"exp":%d}`, iat, iat+60), []byte(demoSecret))
	}
	tests := []struct {
		name     string
		token    string
		wantCode int
		want     string
	}{
		{"good", sign(now), 0, "verdict: ACCEPTED"},
		{"expired", sign(now - 600), 1, `serve answers 401 {"detail":"Signature has expired."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, stdout, _ := runCommand(t, "inspect", tt.token, "--keys", inspectKeys)
			if code := exitCode(err, &bytes.Buffer{}); code != tt.wantCode || !strings.Contains(stdout, tt.want) {
				t.Errorf("exit status %d, want %d and %q in:\n%s", code, tt.wantCode, tt.want, stdout)
			}
		})
	}
}
