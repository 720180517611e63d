package verifier

import (
	"bytes"
	"unicode/utf8"
)

// A strict, allocation-free reader for the two small JSON objects of a JWS:
// the protected header and the claims set (RFC 7515 §4, RFC 7519 §4). It
// reads the top-level members one by one, keeping the values this package
// looks at and validating (then dropping) the rest. It accepts exactly RFC
// 8259 JSON in UTF-8 and refuses what SPEC §6 refuses: duplicate member
// names, more than MaxMembers members, nesting deeper than maxJSONDepth,
// anything after the object.

// tokenClaims are the claims and header members the checks read.
type tokenClaims struct {
	alg                     jsonValue
	critOrB64               bool
	iss, iat, exp, nbf, jti jsonValue
	origIat                 bool
}

// readHeader reads the protected header (RFC 7515 §4): alg, and whether it
// asks for extensions this package does not understand (crit, b64; SPEC §6).
// Duplicate member names, and more than MaxMembers, are malformed (SPEC §6).
func readHeader(data []byte, sc *scratch, tc *tokenClaims) bool {
	var seen uint8
	return readObject(data, sc, func(name []byte, val jsonValue) (known, first bool) {
		switch string(name) {
		case "alg":
			tc.alg = val
			return true, seenOnce(&seen, 1)
		case "crit":
			tc.critOrB64 = true
			return true, seenOnce(&seen, 2)
		case "b64":
			tc.critOrB64 = true
			return true, seenOnce(&seen, 4)
		}
		return false, false
	})
}

// readClaims reads the claims set (RFC 7519 §4.1). Duplicate member names,
// and more than MaxMembers, are malformed (SPEC §6).
func readClaims(data []byte, sc *scratch, tc *tokenClaims) bool {
	var seen uint8
	return readObject(data, sc, func(name []byte, val jsonValue) (known, first bool) {
		switch string(name) {
		case "iss":
			tc.iss = val
			return true, seenOnce(&seen, 1)
		case "iat":
			tc.iat = val
			return true, seenOnce(&seen, 2)
		case "exp":
			tc.exp = val
			return true, seenOnce(&seen, 4)
		case "nbf":
			tc.nbf = val
			return true, seenOnce(&seen, 8)
		case "jti":
			tc.jti = val
			return true, seenOnce(&seen, 16)
		case "orig_iat":
			tc.origIat = true
			return true, seenOnce(&seen, 32)
		}
		return false, false
	})
}

// readObject reads the top-level object in data, handing each member to
// member, which says whether it looks for that name (known) and, if so,
// whether this is its first time (first). Names it does not look for are
// checked for duplicates here. It reports whether the whole object was read
// with at most MaxMembers members and no duplicate name. The cap keeps the
// duplicate check, which compares each name with the earlier ones, short
// whatever the token.
func readObject(data []byte, sc *scratch, member func(name []byte, val jsonValue) (known, first bool)) bool {
	r, ok := newJSONObjectReader(data, &sc.arena, &sc.names)
	for n := 0; ok; n++ {
		name, val, done, valid := r.next()
		switch {
		case !valid:
			return false
		case done:
			return true
		case n == MaxMembers:
			return false
		}
		known, first := member(name, val)
		if !known {
			first = r.firstOther(name)
		}
		ok = first
	}
	return false
}

// maxJSONDepth bounds the nesting of arrays and objects inside a member value.
const maxJSONDepth = 32

type jsonKind uint8

const (
	jsonAbsent jsonKind = iota
	jsonNull
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is one member value. raw holds the number literal of a number,
// the unescaped bytes of a string, "true"/"false" of a bool; it points into
// the decoded segment or the reader's arena and lives as long as they do.
type jsonValue struct {
	kind jsonKind
	raw  []byte
}

// jsonObjectReader walks the members of one top-level object.
type jsonObjectReader struct {
	s     []byte
	i     int
	arena *[]byte   // unescaped strings that contained escapes
	names *[][]byte // names seen, for the duplicate check
	first bool
}

func newJSONObjectReader(s []byte, arena *[]byte, names *[][]byte) (jsonObjectReader, bool) {
	r := jsonObjectReader{s: s, arena: arena, names: names, first: true}
	*names = (*names)[:0]
	r.skipSpace()
	if r.i >= len(s) || s[r.i] != '{' {
		return r, false
	}
	r.i++
	return r, true
}

func (r *jsonObjectReader) skipSpace() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next returns the next member. done is true after the closing brace, when
// only white space may follow; ok is false on any syntax error. Duplicate
// names are the caller's to find: it knows the names it looks for, and asks
// firstOther about the others.
func (r *jsonObjectReader) next() (name []byte, v jsonValue, done, ok bool) {
	r.skipSpace()
	if r.i >= len(r.s) {
		return nil, v, false, false
	}
	if r.s[r.i] == '}' {
		r.i++
		r.skipSpace()
		return nil, v, true, r.i == len(r.s)
	}
	if !r.first {
		if r.s[r.i] != ',' {
			return nil, v, false, false
		}
		r.i++
		r.skipSpace()
	}
	r.first = false
	name, ok = r.readString()
	if !ok {
		return nil, v, false, false
	}
	r.skipSpace()
	if r.i >= len(r.s) || r.s[r.i] != ':' {
		return nil, v, false, false
	}
	r.i++
	r.skipSpace()
	v, ok = r.readValue()
	return name, v, false, ok
}

// firstOther reports whether name, a member name the caller does not look
// for, has not been seen before in this object.
func (r *jsonObjectReader) firstOther(name []byte) bool {
	for _, seen := range *r.names {
		if bytes.Equal(seen, name) {
			return false
		}
	}
	*r.names = append(*r.names, name)
	return true
}

// seenOnce sets bit in *seen and reports whether it was clear: the caller's
// duplicate check for the names it looks for.
func seenOnce(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// readValue reads one value. Scalars and strings are returned; arrays and
// objects are validated and returned without content.
func (r *jsonObjectReader) readValue() (jsonValue, bool) {
	if r.i >= len(r.s) {
		return jsonValue{}, false
	}
	switch c := r.s[r.i]; {
	case c == '"':
		s, ok := r.readString()
		return jsonValue{kind: jsonString, raw: s}, ok
	case c == '-' || (c >= '0' && c <= '9'):
		start := r.i
		ok := r.skipNumber()
		return jsonValue{kind: jsonNumber, raw: r.s[start:r.i]}, ok
	case c == 't':
		return jsonValue{kind: jsonBool, raw: r.s[r.i : r.i+min(4, len(r.s)-r.i)]}, r.literal("true")
	case c == 'f':
		return jsonValue{kind: jsonBool, raw: r.s[r.i : r.i+min(5, len(r.s)-r.i)]}, r.literal("false")
	case c == 'n':
		return jsonValue{kind: jsonNull}, r.literal("null")
	case c == '[':
		return jsonValue{kind: jsonArray}, r.skipComposite()
	case c == '{':
		return jsonValue{kind: jsonObject}, r.skipComposite()
	}
	return jsonValue{}, false
}

func (r *jsonObjectReader) literal(lit string) bool {
	if len(r.s)-r.i < len(lit) || string(r.s[r.i:r.i+len(lit)]) != lit {
		return false
	}
	r.i += len(lit)
	return true
}

// skipNumber consumes an RFC 8259 §6 number.
func (r *jsonObjectReader) skipNumber() bool {
	s, i := r.s, r.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	r.i = i
	return true
}

// skipComposite validates an array or object with an explicit stack of
// open brackets, bounded by maxJSONDepth. Strings inside are validated but
// not kept.
func (r *jsonObjectReader) skipComposite() bool {
	var stack [maxJSONDepth]byte
	depth := 0
	// expectValue: a value must come next (after '[' , ',' or ':').
	for {
		r.skipSpace()
		if r.i >= len(r.s) {
			return false
		}
		c := r.s[r.i]
		switch c {
		case '[', '{':
			if depth == maxJSONDepth {
				return false
			}
			stack[depth] = c
			depth++
			r.i++
			r.skipSpace()
			if r.i < len(r.s) && (r.s[r.i] == ']' && c == '[' || r.s[r.i] == '}' && c == '{') {
				r.i++
				depth--
				if depth == 0 {
					return true
				}
				if !r.afterValue(&stack, &depth) {
					return false
				}
				if depth == 0 {
					return true
				}
				continue
			}
			if c == '{' && !r.memberName() {
				return false
			}
			continue
		}
		if depth == 0 {
			return false
		}
		if _, ok := r.readScalar(); !ok {
			return false
		}
		if !r.afterValue(&stack, &depth) {
			return false
		}
		if depth == 0 {
			return true
		}
	}
}

// memberName reads `"name" :` inside a skipped object.
func (r *jsonObjectReader) memberName() bool {
	r.skipSpace()
	if !r.skipString() {
		return false
	}
	r.skipSpace()
	if r.i >= len(r.s) || r.s[r.i] != ':' {
		return false
	}
	r.i++
	return true
}

// afterValue consumes what may follow a value inside a composite: ',' (and,
// in an object, the next member name) or closing brackets.
func (r *jsonObjectReader) afterValue(stack *[maxJSONDepth]byte, depth *int) bool {
	for {
		r.skipSpace()
		if r.i >= len(r.s) {
			return false
		}
		open := stack[*depth-1]
		switch c := r.s[r.i]; {
		case c == ',':
			r.i++
			if open == '{' {
				return r.memberName()
			}
			return true
		case c == ']' && open == '[', c == '}' && open == '{':
			r.i++
			*depth--
			if *depth == 0 {
				return true
			}
		default:
			return false
		}
	}
}

// readScalar reads a string, number or literal (no composites).
func (r *jsonObjectReader) readScalar() (jsonValue, bool) {
	if r.i < len(r.s) && r.s[r.i] == '"' {
		return jsonValue{kind: jsonString}, r.skipString()
	}
	if r.i < len(r.s) && (r.s[r.i] == '[' || r.s[r.i] == '{') {
		return jsonValue{}, false
	}
	return r.readValue()
}

func (r *jsonObjectReader) skipString() bool {
	_, ok := r.scanString(false)
	return ok
}

func (r *jsonObjectReader) readString() ([]byte, bool) {
	return r.scanString(true)
}

// jsonPlain marks the string bytes that need no attention: printable ASCII
// other than the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString reads a string at r.i. With keep it returns the unescaped bytes:
// a sub-slice of the input when there is no escape, else bytes in the arena.
// A lone UTF-16 surrogate escape is kept as its 3-byte WTF-8 form, so two
// different escapes never decode to the same bytes.
func (r *jsonObjectReader) scanString(keep bool) ([]byte, bool) {
	s := r.s
	if r.i >= len(s) || s[r.i] != '"' {
		return nil, false
	}
	i := r.i + 1
	start := i
	var out []byte
	base := 0
	escaped := false // keep, and an escape was seen: out holds the value so far
	for {
		run := i
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		if escaped {
			out = append(out, s[run:i]...)
		}
		if i >= len(s) {
			return nil, false
		}
		switch c := s[i]; {
		case c == '"':
			r.i = i + 1
			switch {
			case !keep:
				return nil, true
			case !escaped:
				return s[start:i], true
			}
			*r.arena = out
			return out[base:], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if keep && !escaped {
				escaped = true
				base = len(*r.arena)
				out = append(*r.arena, s[start:i]...)
			}
			if i+1 >= len(s) {
				return nil, false
			}
			e := s[i+1]
			i += 2
			var b byte
			switch e {
			case '"', '\\', '/':
				b = e
			case 'b':
				b = '\b'
			case 'f':
				b = '\f'
			case 'n':
				b = '\n'
			case 'r':
				b = '\r'
			case 't':
				b = '\t'
			case 'u':
				cp, ok := hex4(s, i)
				if !ok {
					return nil, false
				}
				i += 4
				if cp >= 0xD800 && cp <= 0xDBFF && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if lo, ok := hex4(s, i+2); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						cp = 0x10000 + (cp-0xD800)<<10 + (lo - 0xDC00)
						i += 6
					}
				}
				if escaped {
					out = appendWTF8(out, cp)
				}
				continue
			default:
				return nil, false
			}
			if escaped {
				out = append(out, b)
			}
		default: // non-ASCII: must be valid UTF-8
			rn, size := utf8.DecodeRune(s[i:])
			if rn == utf8.RuneError && size <= 1 {
				return nil, false
			}
			if escaped {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var cp rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		cp = cp<<4 | rune(c)
	}
	return cp, true
}

// appendWTF8 appends cp as UTF-8, encoding a lone surrogate as the 3 bytes it
// would have (utf8.AppendRune would turn every one into U+FFFD).
func appendWTF8(b []byte, cp rune) []byte {
	if cp >= 0xD800 && cp <= 0xDFFF {
		return append(b, 0xE0|byte(cp>>12), 0x80|byte(cp>>6)&0x3F, 0x80|byte(cp)&0x3F)
	}
	return utf8.AppendRune(b, cp)
}
