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
	"math"
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
func newInspectCommand(e env, exec func(context.Context, *inspectConfig, string) error) *ffcli.Command {
	var c inspectConfig
	fs := newFlagSet("inspect", e)
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
				return usageError{"inspect: give exactly one TOKEN (or - to read it from standard input)"}
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

// usableDate reports whether the claim is a JSON number in 0 .. 2^53
// (SPEC §4).
func usableDate(tv *tokenView, name string) bool {
	f, ok := tv.claimNumber(name)
	return ok && f >= 0 && f <= 1<<53
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

// printChecks prints each SPEC §3 row with its result.
func printChecks(w io.Writer, in inspectInput, r *inspection) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "checks (SPEC §3, in order; the first failure answers; - is not reached)")
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	for row := 1; row < len(checkNames); row++ {
		status, note := rowStatus(in, r, row)
		line := fmt.Sprintf("%4d\t%s\t%s", row, status, checkNames[row])
		if note != "" {
			line += ": " + note
		}
		fmt.Fprintln(tw, line)
		if row == r.row {
			for _, why := range explain(in, r) {
				fmt.Fprintf(tw, "\t\t  %s\n", why)
			}
			fmt.Fprintf(tw, "\t\t  serve answers %s (reason %s)\n", answer(r.d), r.d.Reason())
		}
	}
	tw.Flush()
}

// rowStatus is the result and a short note for one row.
func rowStatus(in inspectInput, r *inspection, row int) (string, string) {
	switch {
	case r.unsigned && (row == 3 || row == 5):
		return "skip", "no key given"
	case row == r.row:
		return "FAIL", ""
	case r.row != 0 && row > r.row:
		return "-", ""
	}
	tv := r.tv
	switch row {
	case 8:
		if iat, ok := tv.claimNumber("iat"); ok {
			return "pass", "iat " + relative(iat-float64(in.now.Unix()))
		}
	case 9:
		if exp, ok := tv.claimNumber("exp"); ok {
			return "pass", "exp " + relative(exp-float64(in.now.Unix()))
		}
	case 10:
		iat, ok1 := tv.claimNumber("iat")
		exp, ok2 := tv.claimNumber("exp")
		if ok1 && ok2 {
			return "pass", fmt.Sprintf("%s s, at most %s s", formatSeconds(exp-iat), formatSeconds(in.maxLifetime.Seconds()))
		}
	case 12:
		if _, ok := tv.claim("nbf"); !ok {
			return "pass", "no nbf"
		}
	case 13:
		if _, ok := tv.claim("jti"); !ok {
			return "pass", "no jti (optional in the amo profile)"
		}
		if jti, ok := tv.claimString("jti"); ok {
			return "pass", fmt.Sprintf("%d bytes", len(jti))
		}
	case 14:
		if r.unsigned {
			return "skip", "no key given"
		}
		if r.key != nil && r.key.User == nil {
			return "skip", "the key store does not know the account"
		}
	case 15:
		if _, ok := tv.claim("jti"); !ok {
			return "n/a", "no jti: serve accepts this token again until it expires"
		}
		return "not run", "inspect has no nonce store; serve accepts a jti once"
	}
	return "pass", ""
}

// explain says why the failed row failed, from the decoded token.
func explain(in inspectInput, r *inspection) []string {
	tv := r.tv
	now := float64(in.now.Unix())
	leeway := formatSeconds(in.leeway.Seconds())
	switch r.row {
	case 1:
		return explainFraming(tv)
	case 2:
		return []string{"the claims have no iss member"}
	case 3:
		raw, _ := tv.claim("iss")
		switch {
		case jsonKind(raw) != "a string":
			return []string{"iss is " + jsonKind(raw) + ", not a string"}
		case r.key != nil && !r.key.Active:
			return []string{"the key is not active"}
		case r.key != nil:
			return []string{"the key has an empty secret"}
		}
		return []string{"no such key in " + in.keysFrom}
	case 4:
		if raw, ok := find(tv.header, "alg"); ok {
			return []string{"alg is " + showValue(raw) + "; only \"HS256\" is accepted (case-sensitive)"}
		}
		return []string{"the header has no alg"}
	case 5:
		return explainSignature(tv, r.key)
	case 6:
		for _, name := range []string{"exp", "iat"} {
			if raw, ok := tv.claim(name); !ok || jsonKind(raw) == "null" {
				return []string{"the claims have no " + name}
			}
		}
	case 7, 9, 10, 12:
		return explainTimes(tv, r.row, now, leeway, in.maxLifetime)
	case 8:
		if iat, ok := tv.claimNumber("iat"); ok {
			return []string{fmt.Sprintf("iat is %s after the clock; the leeway is %s s (is the client's clock right?)",
				formatSeconds(iat-now)+" s", leeway)}
		}
		return []string{"iat is a string that is not a decimal integer"}
	case 11:
		return []string{"the claims have orig_iat: API key tokens cannot be refreshed"}
	case 13:
		raw, ok := tv.claim("jti")
		switch {
		case !ok:
			return []string{"the strict profile requires a jti"}
		case jsonKind(raw) != "a string":
			return []string{"jti is " + jsonKind(raw) + ", not a string"}
		}
		s, _ := tv.claimString("jti")
		return []string{fmt.Sprintf("jti is %d bytes; it must have 1 to %d", len(s), verifier.MaxNonceBytes)}
	case 14:
		if r.d.Reason() == verifier.ReasonUserDisabled {
			return []string{"the account is deleted or banned"}
		}
		return []string{"the account has no read_dev_agreement date"}
	}
	return nil
}

// explainFraming says why a token is not a compact JWS amojwt decodes.
func explainFraming(tv *tokenView) []string {
	switch {
	case tv.space:
		return []string{"the token contains whitespace: give the token alone, without \"JWT \""}
	case tv.size > verifier.MaxTokenBytes:
		return []string{fmt.Sprintf("the token is %d bytes; at most %d are read", tv.size, verifier.MaxTokenBytes)}
	case tv.dots != 2:
		return []string{fmt.Sprintf("the token has %d dots; a JWS in compact serialization has 2 (a JWE has 4)", tv.dots)}
	case tv.headerErr != nil:
		return []string{"the header is " + tv.headerErr.Error()}
	case tv.claimsErr != nil:
		return []string{"the claims are " + tv.claimsErr.Error()}
	case tv.sigErr != nil:
		return []string{"the signature is " + tv.sigErr.Error()}
	}
	if _, ok := find(tv.header, "crit"); ok {
		return []string{"the header has crit: no JWS extension is understood (RFC 7515 §4.1.11, SPEC §6)"}
	}
	if _, ok := find(tv.header, "b64"); ok {
		return []string{"the header has b64: unencoded payloads are not understood (RFC 7797, SPEC §6)"}
	}
	if name := duplicate(tv.header); name != "" {
		return []string{"the header has " + showName(name) + " twice"}
	}
	if name := duplicate(tv.claims); name != "" {
		return []string{"the claims have " + showName(name) + " twice"}
	}
	return []string{"the JSON is outside what is accepted (nesting depth, number syntax, encoding; SPEC §6)"}
}

// explainSignature says what the signature does not match, and what it
// matches if the client used the secret in a common wrong way.
func explainSignature(tv *tokenView, key *verifier.Key) []string {
	why := []string{"the HMAC-SHA256 of the first two segments under the key's secret is not the signature"}
	if tv.sigLen != sha256.Size {
		why = append(why, fmt.Sprintf("the signature is %d bytes; HMAC-SHA256 gives %d", tv.sigLen, sha256.Size))
	}
	if key == nil {
		return why
	}
	matches := func(k []byte) bool {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(tv.signingInput))
		return hmac.Equal(mac.Sum(nil), tv.signature)
	}
	if raw, err := hex.DecodeString(string(key.Secret)); err == nil && matches(raw) {
		why = append(why, "it matches the secret's hex-decoded bytes: the key is the secret's characters as written, not decoded (SPEC §1)")
	}
	if matches(append([]byte(key.Secret), '\n')) {
		why = append(why, "it matches the secret followed by a newline: the client read the secret with its line ending")
	}
	return why
}

// explainTimes says why the time claims fail rows 7, 9, 10 or 12.
func explainTimes(tv *tokenView, row int, now float64, leeway string, maxLifetime time.Duration) []string {
	name := map[int]string{7: "iat", 9: "exp", 12: "nbf"}[row]
	if row == 10 {
		iat, ok1 := tv.claimNumber("iat")
		exp, ok2 := tv.claimNumber("exp")
		if !ok1 || !ok2 {
			return []string{"iat or exp is a string: a lifetime cannot be computed"}
		}
		return []string{fmt.Sprintf("exp - iat is %s s; at most %s s", formatSeconds(exp-iat), formatSeconds(maxLifetime.Seconds()))}
	}
	raw, _ := tv.claim(name)
	kind := jsonKind(raw)
	switch {
	case kind == "a number" && !usableDate(tv, name):
		return []string{name + " is outside 0 .. 2^53 (SPEC §4)"}
	case kind == "a number":
		v, _ := tv.claimNumber(name)
		if row == 9 {
			return []string{fmt.Sprintf("exp is %s s before the clock; the leeway is %s s", formatSeconds(now-math.Trunc(v)), leeway)}
		}
		return []string{fmt.Sprintf("nbf is %s s after the clock; the leeway is %s s", formatSeconds(math.Trunc(v)-now), leeway)}
	case kind == "a string" && row == 9:
		if s, _ := tv.claimString(name); s != "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return []string{fmt.Sprintf("exp is a string; read as %d it is %s s before the clock", n, formatSeconds(now-float64(n)))}
			}
		}
		return []string{"exp is a string that is not a decimal integer"}
	case kind == "a string" && row == 7:
		return []string{"iat is a string holding a decimal integer: AMO wants a JSON number"}
	}
	return []string{name + " is " + kind + ", not a number (SPEC §4)"}
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
