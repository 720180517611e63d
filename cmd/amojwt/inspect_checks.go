package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// The checks of `amojwt inspect`: each SPEC §3 row with its result, and why
// the failed row failed, explained from the decoded token.

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

// usableDate reports whether the claim is a JSON number in 0 .. 2^53
// (SPEC §4).
func usableDate(tv *tokenView, name string) bool {
	f, ok := tv.claimNumber(name)
	return ok && f >= 0 && f <= 1<<53
}
