package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/amojwt/amojwt/middleware"
	"github.com/amojwt/amojwt/verifier"
)

// errNotAccepted is inspect's result for a token serve would not accept:
// exit status 1, with the verdict already printed.
var errNotAccepted = errors.New("inspect: the token would not be accepted")

// inspectConfig is the configuration of `amojwt inspect`.
type inspectConfig struct {
	keysFile    string
	secret      string
	at          string
	profile     verifier.Profile
	leeway      time.Duration
	maxLifetime time.Duration
}

// newInspectCommand returns the inspect command, which calls exec with its
// configuration and the TOKEN argument once the flags are parsed.
func newInspectCommand(exec func(context.Context, *inspectConfig, string) error) *ffcli.Command {
	var c inspectConfig
	fs := newFlagSet("inspect")
	fs.StringVar(&c.keysFile, "keys", "", "keys file to find the token's key in (the format of serve --keys)")
	fs.StringVar(&c.secret, "secret", "", "the API secret of the token's iss; never printed. Prefer $AMOJWT_SECRET to keep it out of ps")
	fs.StringVar(&c.at, "at", "", "check at this time instead of now: RFC 3339 (2023-11-14T22:13:20Z) or Unix seconds")
	fs.TextVar(&c.profile, "profile", verifier.ProfileAMO, "whether a token needs a jti, `amo|strict`: amo (optional) or strict (required)")
	fs.DurationVar(&c.leeway, "leeway", verifier.DefaultLeeway, "clock skew allowed on iat, exp and nbf")
	fs.DurationVar(&c.maxLifetime, "max-lifetime", verifier.DefaultMaxLifetime, "largest exp - iat accepted")
	return &ffcli.Command{
		Name:       "inspect",
		ShortUsage: "amojwt inspect [--keys FILE | --secret S] [--at TIME] [flags] TOKEN",
		ShortHelp:  "explain why a token is accepted or refused, check by check",
		LongHelp: "Decodes TOKEN (or a token read from standard input when TOKEN is -) without\n" +
			"trusting it and prints its header and claims, then runs the checks serve runs\n" +
			"(SPEC §3, in order, with the same verifier) and prints each with pass or FAIL,\n" +
			"the answer serve would send and a one-line verdict. Exit status 0 only if serve\n" +
			"would accept the token. Without --keys or --secret the key and signature checks\n" +
			"are skipped and the token is never reported accepted. The replay check needs the\n" +
			"server's nonce store and is not run. Secrets and the signature are never printed:\n" +
			"the output is safe to paste into a bug report.",
		FlagSet:   fs,
		Options:   parseOptions,
		UsageFunc: usage,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageError{"inspect: give exactly one TOKEN (or - to read it from standard input)" + forExample("inspect")}
			}
			return exec(ctx, &c, args[0])
		},
	}
}

// runInspect inspects the token arg (read from stdin when "-") as c says,
// at now unless c sets the time. It returns errNotAccepted when serve would
// not accept the token.
func runInspect(ctx context.Context, c *inspectConfig, arg string, e env, now time.Time) error {
	if c.keysFile != "" && c.secret != "" {
		return usageError{"inspect: give at most one of --keys and --secret"}
	}
	in := inspectInput{now: now, clock: "this machine's clock", profile: c.profile, leeway: c.leeway, maxLifetime: c.maxLifetime}
	if c.at != "" {
		var err error
		if in.now, err = parseTime(c.at); err != nil {
			return usageError{"inspect: --at: " + err.Error()}
		}
		in.clock = "--at"
	}
	in.token = arg
	if arg == "-" {
		line, err := bufio.NewReader(io.LimitReader(e.stdin, 1<<20)).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("inspect: reading the token: %w", err)
		}
		in.token = strings.TrimSpace(line)
	}
	switch {
	case c.keysFile != "":
		kf, err := verifier.LoadKeysFile(c.keysFile)
		if err != nil {
			return fmt.Errorf("inspect: --keys: %w", err)
		}
		in.keys, in.keysFrom = kf, c.keysFile
	case c.secret != "":
		in.secret, in.keysFrom = verifier.Secret(c.secret), "the given secret"
	}
	accepted, err := inspectToken(ctx, e.stdout, in)
	if err != nil {
		return err
	}
	if !accepted {
		return errNotAccepted
	}
	return nil
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2023-11-14T22:13:20Z) nor Unix seconds", s)
	}
	return t, nil
}

// inspectInput is what inspectToken checks a token with.
type inspectInput struct {
	token       string
	now         time.Time
	clock       string // where now comes from, for the output
	profile     verifier.Profile
	leeway      time.Duration
	maxLifetime time.Duration
	// keys is the key store to check with, or secret the secret of the
	// token's iss; neither when no key was given.
	keys     verifier.KeyStore
	secret   verifier.Secret
	keysFrom string // where keys or secret come from, for the output
}

// inspection is the result of checking a token.
type inspection struct {
	tv *tokenView
	d  verifier.Decision
	p  *verifier.Principal
	// key is the key the token's iss names in the given store, or nil.
	key *verifier.Key
	// unsigned is set when no key was given: the claims were checked by
	// the verifier under a throwaway key, and rows 3 and 5 are skipped.
	unsigned bool
	// row is the SPEC §3 row that failed (the refusal's Rule), 0 when
	// none did.
	row int
}

// inspectToken prints the token, each check and the verdict to w, and
// reports whether serve would accept the token. The verdict is always the
// verifier's (the code serve runs); the decoding for display only explains.
func inspectToken(ctx context.Context, w io.Writer, in inspectInput) (bool, error) {
	r, err := in.check(ctx)
	if err != nil {
		return false, err
	}
	out := &errWriter{w: w}
	printToken(out, r.tv, in.now)
	printContext(out, in, r)
	printChecks(out, in, r)
	accepted := printVerdict(out, r)
	return accepted, out.err
}

// check runs the verifier on in.token.
func (in inspectInput) check(ctx context.Context) (*inspection, error) {
	r := &inspection{tv: viewToken(in.token)}
	iss, issIsString := r.tv.claimString("iss")
	keys := in.keys
	switch {
	case in.secret != nil && issIsString:
		k, err := verifier.NewStaticKeys(&verifier.Key{Issuer: iss, Secret: in.secret, Active: true})
		if err != nil {
			return nil, fmt.Errorf("inspect: --secret: %w", err)
		}
		keys = k
	case keys == nil:
		keys, _ = verifier.NewStaticKeys()
	}
	if issIsString {
		r.key, _ = keys.Lookup(ctx, iss)
	}
	var err error
	if r.p, r.d, err = in.verify(ctx, keys, in.token); err != nil {
		return nil, err
	}
	if in.keys == nil && in.secret == nil && r.d.Reason() == verifier.ReasonIssuerUnknown && issIsString && r.tv.signingInput != "" {
		// No key: sign the token's own header and claims with a throwaway
		// key so that the verifier runs every other check on them.
		var secret [32]byte
		if _, err := rand.Read(secret[:]); err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		throwaway := verifier.Secret(hex.EncodeToString(secret[:]))
		keys, err := verifier.NewStaticKeys(&verifier.Key{Issuer: iss, Secret: throwaway, Active: true})
		if err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		mac := hmac.New(sha256.New, throwaway)
		mac.Write([]byte(r.tv.signingInput))
		resigned := r.tv.signingInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		if r.p, r.d, err = in.verify(ctx, keys, resigned); err != nil {
			return nil, err
		}
		r.unsigned = true
	}
	if r.d.Err != nil {
		rule := r.d.Err.Rule()
		if rule.Section != 3 {
			// A store failure (§7) or the reset guard (§5): inspect has
			// no nonce store, and its key stores never fail.
			return nil, fmt.Errorf("inspect: %w", r.d.Err)
		}
		r.row = rule.Item
	}
	return r, nil
}

// verify runs the verifier serve runs, configured as in says, without a
// nonce store (inspect cannot know which nonces serve has seen).
// It fails only for invalid settings (a negative leeway, ...), a usage error.
func (in inspectInput) verify(ctx context.Context, keys verifier.KeyStore, token string) (*verifier.Principal, verifier.Decision, error) {
	v, err := verifier.New(keys,
		verifier.WithProfile(in.profile),
		verifier.WithLeeway(in.leeway),
		verifier.WithMaxLifetime(in.maxLifetime),
		verifier.WithClock(func() time.Time { return in.now }),
		verifier.WithReplay(verifier.ReplayAllow),
	)
	if err != nil {
		return nil, verifier.Decision{}, usageError{"inspect: " + err.Error()}
	}
	p, d := v.Check(ctx, token)
	return p, d, nil
}

// checkNames are the SPEC §3 checks, by row.
var checkNames = [...]string{
	1:  "framing: 3 base64url segments, JSON objects, at most 8 KiB",
	2:  "iss present",
	3:  "iss names an active key",
	4:  "alg is HS256",
	5:  "HMAC-SHA256 signature matches",
	6:  "exp and iat present",
	7:  "iat has a usable type",
	8:  "iat not in the future",
	9:  "exp not passed",
	10: "lifetime exp - iat within the maximum",
	11: "no orig_iat",
	12: "nbf not in the future",
	13: "jti a string of 1-256 bytes when present (required in strict)",
	14: "account enabled, developer agreement read",
	15: "jti not used before (replay)",
}

// printToken prints the decoded header and claims.
func printToken(w io.Writer, tv *tokenView, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintf(tw, "token\t%d bytes, %s\n", tv.size, plural(tv.dots, "dot"))
	printMembers(tw, "header", tv.header, tv.headerErr, now, headerNote)
	printMembers(tw, "claims", tv.claims, tv.claimsErr, now, claimNote)
	if tv.sigErr != nil {
		fmt.Fprintf(tw, "signature\t%s\n", tv.sigErr)
	} else {
		fmt.Fprintf(tw, "signature\t%d bytes (not shown)\n", tv.sigLen)
	}
	tw.Flush()
}

func printMembers(tw io.Writer, what string, members []member, err error, now time.Time, note func(member, time.Time) string) {
	if err != nil {
		fmt.Fprintf(tw, "%s\t%s\n", what, err)
		return
	}
	fmt.Fprintf(tw, "%s\t%s\n", what, plural(len(members), "member"))
	for _, m := range members {
		line := "  " + showName(m.name) + "\t" + showValue(m.raw)
		if n := note(m, now); n != "" {
			line += "  " + n
		}
		fmt.Fprintln(tw, line)
	}
}

// headerNote says what the verifier does with a header member.
func headerNote(m member, _ time.Time) string {
	switch m.name {
	case "alg":
		return ""
	case "crit", "b64":
		return "(an extension: refused, SPEC §6)"
	}
	return "(ignored)"
}

// claimNote gives the date of a time claim, or says a claim is ignored.
func claimNote(m member, now time.Time) string {
	switch m.name {
	case "iss", "jti":
		return ""
	case "iat", "exp", "nbf", "orig_iat":
		if jsonKind(m.raw) != "a number" {
			return ""
		}
		f, err := strconv.ParseFloat(string(m.raw), 64)
		if err != nil {
			return ""
		}
		s, _ := showTime(f, now)
		return s
	}
	return "(ignored)"
}

// printContext prints the clock, the policy and the key.
func printContext(w io.Writer, in inspectInput, r *inspection) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintf(tw, "clock\t%s (%s)\n", in.now.UTC().Format(time.RFC3339), in.clock)
	fmt.Fprintf(tw, "policy\tprofile %s, leeway %s, max lifetime %s\n", in.profile, in.leeway, in.maxLifetime)
	fmt.Fprintf(tw, "key\t%s\n", keyLine(in, r))
	if in.secret != nil && !amoSecretShape(in.secret) {
		fmt.Fprintf(tw, "\tnote: the given secret is %d bytes; AMO's secrets are 64 lowercase hex characters\n", len(in.secret))
	}
	tw.Flush()
}

func keyLine(in inspectInput, r *inspection) string {
	iss, ok := r.tv.claimString("iss")
	switch {
	case in.keys == nil && in.secret == nil:
		return "none given (--keys or --secret): the key and signature checks are skipped"
	case !ok:
		return "the token names no issuer (iss is not a string)"
	case r.key == nil:
		return fmt.Sprintf("no key %s in %s", printable(strconv.Quote(iss)), in.keysFrom)
	}
	line := printable(iss) + " from " + in.keysFrom
	if !r.key.Active {
		return line + ", not active"
	}
	if u := r.key.User; u != nil {
		return line + fmt.Sprintf(", account %d", u.ID)
	}
	return line + ", account unknown (row 14 is skipped)"
}

// amoSecretShape reports whether s looks like an AMO secret: 64 lowercase
// hex characters.
func amoSecretShape(s verifier.Secret) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// plural is "1 dot", "2 dots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// formatSeconds formats a number of seconds without trailing zeros.
func formatSeconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

// answer is the response serve sends for d, a refusal: status and JSON
// body.
func answer(d verifier.Decision) string {
	return fmt.Sprintf("%d %s", d.Err.Status(), middleware.ErrorBody(d.Err))
}

// printVerdict prints the one-line verdict and reports acceptance.
func printVerdict(w io.Writer, r *inspection) bool {
	fmt.Fprintln(w)
	switch {
	case r.row != 0 && r.unsigned:
		fmt.Fprintf(w, "verdict: REFUSED at row %d whatever the key: serve answers %s if the signature is good (not checked: no key given)\n",
			r.row, answer(r.d))
	case r.row != 0:
		fmt.Fprintf(w, "verdict: REFUSED at row %d: serve answers %s\n", r.row, answer(r.d))
	case r.unsigned:
		fmt.Fprintln(w, "verdict: NOT VERIFIED: the claims pass, the signature was not checked (give --keys or --secret)")
	default:
		fmt.Fprintf(w, "verdict: ACCEPTED: user %d, key %s\n", r.p.UserID, printable(r.p.Issuer))
		return true
	}
	return false
}

// errWriter remembers the first error of its writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (ew *errWriter) Write(p []byte) (int, error) {
	if ew.err != nil {
		return 0, ew.err
	}
	n, err := ew.w.Write(p)
	ew.err = err
	return n, err
}
