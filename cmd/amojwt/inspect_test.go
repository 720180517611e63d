package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/internal/jwttest"
	"github.com/amojwt/amojwt/internal/vectors"
	"github.com/amojwt/amojwt/verifier"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/inspect")

// The inspect goldens run at a fixed clock, so their tokens are fixed too.
const (
	inspectAt     = "1700000000"
	inspectHeader = `{"alg":"HS256","typ":"JWT"}`
	inspectKeys   = "testdata/keys.json"
)

func TestInspectGolden(t *testing.T) {
	t.Parallel()
	demo := []byte(demoSecret)
	hexDecoded, err := hex.DecodeString(demoSecret)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(claims string) string { return jwttest.Sign(inspectHeader, claims, demo) }
	keys := []string{"--keys", inspectKeys}
	secret := []string{"--secret", demoSecret}
	tests := []struct {
		name  string
		flags []string
		token string
	}{
		{"accepted", keys, sign(`{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`)},
		{"accepted_secret_no_jti", secret, jwttest.Sign(`{"alg":"HS256"}`, `{"iss":"user:543210:23","iat":1699999990,"exp":1700000290}`, demo)},
		{"accepted_no_user_record", keys, jwttest.Sign(inspectHeader, `{"iss":"user:42:7","jti":"b","iat":1700000000,"exp":1700000060}`,
			[]byte("4242424242424242424242424242424242424242424242424242424242424242"))},
		{"no_key", nil, sign(`{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`)},
		{"no_key_expired", nil, sign(`{"iss":"user:543210:23","jti":"a","iat":1699999000,"exp":1699999060}`)},
		{"malformed_with_scheme", keys, "JWT " + sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`)},
		{"malformed_two_segments", keys, "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0"},
		{"malformed_claims_not_json", keys, jwttest.Sign(inspectHeader, `{"iss":"user:543210:23",}`, demo)},
		{"malformed_duplicate_claim", keys, sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060,"exp":1700000060}`)},
		{"malformed_crit", keys, jwttest.Sign(`{"alg":"HS256","crit":["exp"]}`, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, demo)},
		{"issuer_missing", keys, sign(`{"jti":"a","iat":1700000000,"exp":1700000060}`)},
		{"unknown_issuer", keys, sign(`{"iss":"user:1:1","jti":"a","iat":1700000000,"exp":1700000060}`)},
		{"inactive_key", keys, jwttest.Sign(inspectHeader, `{"iss":"user:3:1","iat":1700000000,"exp":1700000060}`,
			[]byte("3333333333333333333333333333333333333333333333333333333333333333"))},
		{"algorithm", keys, jwttest.SignAlg("HS512", `{"alg":"HS512","typ":"JWT"}`, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, demo)},
		{"signature", keys, jwttest.Sign(inspectHeader, `{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000060}`, []byte("not the secret"))},
		{"signature_hex_decoded_secret", secret, jwttest.Sign(inspectHeader, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, hexDecoded)},
		{"claim_missing", keys, sign(`{"iss":"user:543210:23","jti":"a","iat":1700000000}`)},
		{"claim_type_iat_string", keys, sign(`{"iss":"user:543210:23","iat":"1700000000","exp":1700000060}`)},
		{"claim_type_exp_not_integer", keys, sign(`{"iss":"user:543210:23","iat":1700000000,"exp":"soon"}`)},
		{"issued_in_future", keys, sign(`{"iss":"user:543210:23","jti":"a","iat":1700003600,"exp":1700003660}`)},
		{"expired", keys, sign(`{"iss":"user:543210:23","jti":"a","iat":1699999800,"exp":1699999860}`)},
		{"lifetime_too_long", keys, sign(`{"iss":"user:543210:23","jti":"a","iat":1700000000,"exp":1700000600}`)},
		{"refreshable", keys, sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060,"orig_iat":1700000000}`)},
		{"not_yet_valid", keys, sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060,"nbf":1700000030}`)},
		{"strict_without_jti", append([]string{"--profile", "strict"}, keys...), sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`)},
		{"nonce_invalid", keys, sign(`{"iss":"user:543210:23","jti":42,"iat":1700000000,"exp":1700000060}`)},
		{"user_disabled", keys, jwttest.Sign(inspectHeader, `{"iss":"user:2:1","iat":1700000000,"exp":1700000060}`,
			[]byte("2222222222222222222222222222222222222222222222222222222222222222"))},
		// Raw U+009B (a C1 control: CSI) and U+202E (a bidi override) are
		// valid unescaped in JSON and must not reach the terminal as such.
		{"accepted_hostile_display", secret, sign(`{"iss":"user:543210:23","iat":1700000000,"exp":1700000060,"note":"` +
			"\u009b31m red \u202e" + strings.Repeat("x", 200) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"inspect", "--at", inspectAt}, tt.flags...), tt.token)
			err, stdout, stderr := runCommand(t, args...)
			var status bytes.Buffer
			code := exitCode(err, &status)
			cmdline := strings.Join(append(append([]string{"$ amojwt inspect --at", inspectAt}, redact(tt.flags)...), "TOKEN"), " ")
			got := fmt.Sprintf("%s\n%s\nexit status %d\n", cmdline, stdout, code)

			path := filepath.Join("testdata", "inspect", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestInspectGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -run TestInspectGolden -update rewrites it):\n%s", path, got)
			}
			if stderr != "" || status.Len() != 0 {
				t.Errorf("stderr %q, exit message %q", stderr, status.String())
			}
			if sig := tt.token[strings.LastIndexByte(tt.token, '.')+1:]; len(sig) > 20 && strings.Contains(stdout, sig) {
				t.Error("the output shows the signature")
			}
			for _, s := range []string{demoSecret, "4242424242424242", "2222222222222222", "3333333333333333"} {
				if strings.Contains(stdout, s) {
					t.Errorf("the output shows a secret %q", s)
				}
			}
			// The verdict: exit 0 exactly for "accepted" cases.
			if accepted := strings.HasPrefix(tt.name, "accepted"); accepted != (code == 0) {
				t.Errorf("exit status %d for %s", code, tt.name)
			}
		})
	}
}

// redact hides the value of --secret in the golden's command line.
func redact(flags []string) []string {
	out := append([]string(nil), flags...)
	for i := range out {
		if i > 0 && out[i-1] == "--secret" {
			out[i] = "S"
		}
	}
	return out
}

// TestInspectAgreesWithVectors runs inspect on the first use of every
// conformance vector: its verdict is the vector's expected answer, exactly
// one row fails when the token is refused, and that row is the one the
// vector's SPEC reference names.
func TestInspectAgreesWithVectors(t *testing.T) {
	t.Parallel()
	suites, err := vectors.LoadAll(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	specRow := regexp.MustCompile(`^§3 row (\d+)(,|$)`)
	var checked int
	for _, s := range suites {
		keys, err := s.StaticKeys()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Cases {
			if c.HTTPOnly || c.KeyStore == "map" || c.Replay != verifier.ReplayRefuse || c.ResetGuard || len(c.Uses) == 0 {
				continue
			}
			u := c.Uses[0]
			in := inspectInput{token: u.Token, now: u.Now, clock: "vector", profile: c.Profile,
				leeway: verifier.DefaultLeeway, maxLifetime: verifier.DefaultMaxLifetime, keys: keys, keysFrom: s.File}
			var out bytes.Buffer
			accepted, err := inspectToken(context.Background(), &out, in)
			if err != nil {
				t.Fatalf("%s/%s: %v", s.File, c.Name, err)
			}
			checked++
			text := out.String()
			fails := strings.Count(text, "  FAIL  ")
			switch {
			case accepted != (u.Expect.Status == 200):
				t.Errorf("%s/%s: accepted %v, want status %d:\n%s", s.File, c.Name, accepted, u.Expect.Status, text)
			case !accepted && (fails != 1 || !strings.Contains(text, "(reason "+string(u.Expect.Reason)+")")):
				t.Errorf("%s/%s: want one FAIL row with reason %s:\n%s", s.File, c.Name, u.Expect.Reason, text)
			case accepted && fails != 0:
				t.Errorf("%s/%s: accepted with a FAIL row:\n%s", s.File, c.Name, text)
			}
			if m := specRow.FindStringSubmatch(c.Spec); m != nil && !accepted {
				row, _ := strconv.Atoi(m[1])
				if !regexp.MustCompile(fmt.Sprintf(`(?m)^ *%d  FAIL  `, row)).MatchString(text) {
					t.Errorf("%s/%s (%s): the FAIL row is not row %d:\n%s", s.File, c.Name, c.Spec, row, text)
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d vectors checked", checked)
	}
}

func TestInspectCommandLine(t *testing.T) {
	t.Parallel()
	tok := jwttest.Sign(inspectHeader, `{"iss":"user:543210:23","iat":1700000000,"exp":1700000060}`, []byte(demoSecret))
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		want     string // in stdout, or in the error for a usage error
	}{
		{"token from stdin", []string{"inspect", "--at", "2023-11-14T22:13:20Z", "--keys", inspectKeys, "-"}, tok + "\n", 0, "verdict: ACCEPTED"},
		{"at in RFC 3339", []string{"inspect", "--at", "2023-11-14T22:13:20Z", "--keys", inspectKeys, tok}, "", 0, "clock   2023-11-14T22:13:20Z (--at)"},
		{"now: expired", []string{"inspect", "--keys", inspectKeys, tok}, "", 1, "reason expired"},
		{"keys and secret", []string{"inspect", "--keys", inspectKeys, "--secret", "s", tok}, "", 2, "at most one of --keys and --secret"},
		{"no token", []string{"inspect", "--keys", inspectKeys}, "", 2, "exactly one TOKEN"},
		{"bad time", []string{"inspect", "--at", "yesterday", tok}, "", 2, `--at: "yesterday"`},
		{"bad profile", []string{"inspect", "--profile", "lax", tok}, "", 2, `unknown profile "lax"`},
		{"negative leeway", []string{"inspect", "--leeway", "-1s", tok}, "", 2, "negative leeway"},
		{"zero max lifetime", []string{"inspect", "--max-lifetime", "0s", "--secret", "s", tok}, "", 2, "max lifetime must be positive"},
		{"missing keys file", []string{"inspect", "--keys", "testdata/nope.json", tok}, "", 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut syncBuffer
			err := run(context.Background(), tt.args, env{stdin: strings.NewReader(tt.stdin), stdout: &out, stderr: &errOut, program: "amojwt"})
			var msg bytes.Buffer
			code := exitCode(err, &msg)
			if code != tt.wantCode || !strings.Contains(out.String()+msg.String(), tt.want) {
				t.Errorf("exit %d (%v), want %d and %q in:\n%s%s", code, err, tt.wantCode, tt.want, out.String(), msg.String())
			}
			if code == 1 && !errors.Is(err, errNotAccepted) && msg.Len() == 0 {
				t.Error("an error other than a refusal printed nothing")
			}
		})
	}
}

func TestInspectHelpListsEnvironment(t *testing.T) {
	t.Parallel()
	_, stdout, _ := runCommand(t, "help", "inspect")
	for _, want := range []string{"--keys string  $AMOJWT_KEYS", "--secret string  $AMOJWT_SECRET", "--at string  $AMOJWT_AT",
		"--profile amo|strict  $AMOJWT_PROFILE", "--leeway duration  $AMOJWT_LEEWAY", "--max-lifetime duration  $AMOJWT_MAX_LIFETIME"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help inspect lacks %q:\n%s", want, stdout)
		}
	}
}
