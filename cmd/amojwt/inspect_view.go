package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// tokenView is a token decoded for display by `amojwt inspect`, with
// encoding/json and without trusting anything in it. It never decides a
// verdict (the verifier does); it shows what the token says and helps to
// explain why a check failed.
type tokenView struct {
	size  int
	dots  int
	space bool // the token contains whitespace (pasted with "JWT "?)
	// header and claims are the members of the first two segments, in
	// order and with duplicates; nil with headerErr or claimsErr when a
	// segment is missing or is not base64url of a JSON object.
	header, claims       []member
	headerErr, claimsErr error
	// sigLen is the length of the decoded signature, or -1 with sigErr.
	sigLen int
	sigErr error
	// signingInput is the first two segments as sent, what the signature
	// covers (RFC 7515 §5.1); "" unless the token has exactly two dots.
	signingInput string
	signature    []byte
}

// member is one member of a JSON object, its value as written.
type member struct {
	name string
	raw  json.RawMessage
}

var errNoSegment = errors.New("missing")

// viewToken decodes token for display.
func viewToken(token string) *tokenView {
	tv := &tokenView{size: len(token), dots: strings.Count(token, "."), sigLen: -1}
	tv.space = strings.ContainsAny(token, " \t\r\n")
	parts := strings.Split(token, ".")
	segment := func(i int) ([]byte, error) {
		if i >= len(parts) {
			return nil, errNoSegment
		}
		return decodeBase64URL(parts[i])
	}
	if b, err := segment(0); err != nil {
		tv.headerErr = err
	} else {
		tv.header, tv.headerErr = objectMembers(b)
	}
	if b, err := segment(1); err != nil {
		tv.claimsErr = err
	} else {
		tv.claims, tv.claimsErr = objectMembers(b)
	}
	if b, err := segment(2); err != nil {
		tv.sigErr = err
	} else {
		tv.sigLen, tv.signature = len(b), b
	}
	if len(parts) == 3 {
		tv.signingInput = parts[0] + "." + parts[1]
	}
	return tv
}

// decodeBase64URL decodes unpadded base64url (RFC 7515 §2), refusing line
// breaks, which Go's decoder would skip.
func decodeBase64URL(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains a line break")
	}
	if strings.HasSuffix(s, "=") {
		return nil, errors.New("padded with '=' (JWS segments are unpadded)")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	return b, nil
}

// objectMembers returns the members of the JSON object data, in order and
// with duplicates, or an error if data is not exactly one JSON object.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object but %s", jsonKind(data))
	}
	members := []member{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		members = append(members, member{name: tok.(string), raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: data after the object")
	}
	return members, nil
}

// find returns the value of the first member named name.
func find(members []member, name string) (json.RawMessage, bool) {
	for _, m := range members {
		if m.name == name {
			return m.raw, true
		}
	}
	return nil, false
}

// duplicate returns the first member name that appears twice, or "".
func duplicate(members []member) string {
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if seen[m.name] {
			return m.name
		}
		seen[m.name] = true
	}
	return ""
}

// claim returns the claim named name.
func (tv *tokenView) claim(name string) (json.RawMessage, bool) { return find(tv.claims, name) }

// claimString returns the claim named name when it is a JSON string.
func (tv *tokenView) claimString(name string) (string, bool) {
	raw, ok := tv.claim(name)
	if !ok || jsonKind(raw) != "a string" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// claimNumber returns the claim named name when it is a JSON number.
func (tv *tokenView) claimNumber(name string) (float64, bool) {
	raw, ok := tv.claim(name)
	if !ok || jsonKind(raw) != "a number" {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// jsonKind names the kind of the JSON value raw: "a string", "a number",
// "a list", "an object", "a boolean", "null".
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '[':
		return "a list"
	case c == '{':
		return "an object"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		return "a number"
	}
}

// maxShownValue is how much of a member's value inspect shows.
const maxShownValue = 100

// showValue returns raw as compact JSON, cut after maxShownValue bytes, and
// safe for a terminal.
func showValue(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > maxShownValue {
		cut := maxShownValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
	}
	return printable(s)
}

// showName returns a member name as is when it is plain, else quoted.
func showName(name string) string {
	if name == "" {
		return `""`
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return strconv.QuoteToASCII(name)
		}
	}
	return name
}

// printable escapes what a terminal could interpret (control and format
// characters such as bidirectional overrides) and invalid UTF-8 as \uXXXX.
func printable(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\ufffd`)
		case !unicode.IsGraphic(r):
			if r > 0xFFFF {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// maxDisplayDate is the last second of year 9999, the last date shown.
const maxDisplayDate = 253402300799

// showTime describes the NumericDate secs relative to now: its UTC date and
// "now", "in 42 s" or "61 s ago" (with a duration when large). ok is false
// for values without a displayable date.
func showTime(secs float64, now time.Time) (string, bool) {
	if secs < 0 || secs > maxDisplayDate || math.IsNaN(secs) {
		return "", false
	}
	whole := math.Floor(secs)
	date := time.Unix(int64(whole), int64((secs-whole)*1e9)).UTC().Format(time.RFC3339Nano)
	return date + "  " + relative(secs-float64(now.Unix())), true
}

// relative says how far d seconds is from now: "now", "in 42 s", "61 s ago".
func relative(d float64) string {
	abs := math.Abs(d)
	text := strconv.FormatFloat(abs, 'f', -1, 64) + " s"
	if abs >= 120 && abs < 1e9 {
		text += " (" + time.Duration(abs*float64(time.Second)).Round(time.Second).String() + ")"
	}
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return "in " + text
	}
	return text + " ago"
}
