package verifier

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestJSONObjectReader(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	tooDeep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	tests := []struct {
		name  string
		in    string
		ok    bool
		names []string // members read, in order
		first string   // raw of the first member's value
	}{
		{name: "empty object", in: `{}`, ok: true},
		{name: "white space", in: " \t\r\n{ \"a\" : 1 , \"b\":2 } \n", ok: true, names: []string{"a", "b"}, first: "1"},
		{name: "string value", in: `{"iss":"user:1:1"}`, ok: true, names: []string{"iss"}, first: "user:1:1"},
		{name: "escaped name", in: `{"i\u0073s":"x"}`, ok: true, names: []string{"iss"}, first: "x"},
		{name: "escaped value", in: `{"a":"x\"y\\z\/\n\u00e9"}`, ok: true, names: []string{"a"}, first: "x\"y\\z/\né"},
		{name: "surrogate pair", in: `{"a":"\ud83d\ude00"}`, ok: true, names: []string{"a"}, first: "😀"},
		{name: "lone surrogate kept distinct", in: `{"a":"\ud800"}`, ok: true, names: []string{"a"}, first: "\xed\xa0\x80"},
		{name: "numbers", in: `{"a":-0.5e+10,"b":0,"c":1.7e9}`, ok: true, names: []string{"a", "b", "c"}, first: "-0.5e+10"},
		{name: "literals", in: `{"a":true,"b":false,"c":null}`, ok: true, names: []string{"a", "b", "c"}, first: "true"},
		{name: "nested", in: `{"a":{"b":[1,{"c":[]},"x",{}],"d":null},"e":1}`, ok: true, names: []string{"a", "e"}},
		{name: "max depth", in: `{"a":` + deep + `}`, ok: true, names: []string{"a"}},
		{name: "too deep", in: `{"a":` + tooDeep + `}`},
		{name: "duplicate", in: `{"a":1,"a":2}`},
		{name: "duplicate after escape", in: `{"iss":1,"i\u0073s":2}`},
		{name: "nested duplicates are not ours to judge", in: `{"a":{"b":1,"b":2}}`, ok: true, names: []string{"a"}},
		{name: "trailing data", in: `{} x`},
		{name: "two objects", in: `{}{}`},
		{name: "array top level", in: `[1]`},
		{name: "string top level", in: `"x"`},
		{name: "null top level", in: `null`},
		{name: "empty", in: ``},
		{name: "trailing comma", in: `{"a":1,}`},
		{name: "trailing comma in array", in: `{"a":[1,]}`},
		{name: "missing colon", in: `{"a" 1}`},
		{name: "single quotes", in: `{'a':1}`},
		{name: "leading zero", in: `{"a":01}`},
		{name: "bare dot", in: `{"a":1.}`},
		{name: "plus sign", in: `{"a":+1}`},
		{name: "NaN", in: `{"a":NaN}`},
		{name: "Infinity", in: `{"a":Infinity}`},
		{name: "control char", in: "{\"a\":\"x\x01\"}"},
		{name: "bad escape", in: `{"a":"\x"}`},
		{name: "short unicode escape", in: `{"a":"\u12"}`},
		{name: "invalid utf8", in: "{\"a\":\"\xff\"}"},
		{name: "unterminated string", in: `{"a":"x`},
		{name: "unterminated object", in: `{"a":1`},
		{name: "truncated literal", in: `{"a":tru`},
		{name: "object missing member", in: `{"a":{"b"}}`},
		{name: "mismatched brackets", in: `{"a":[1}}`},
		{name: "non-string name", in: `{1:2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var arena []byte
			var names [][]byte
			r, ok := newJSONObjectReader([]byte(tt.in), &arena, &names)
			var got []string
			var first string
			for ok {
				name, v, done, valid := r.next()
				if !valid {
					ok = false
					break
				}
				if done {
					break
				}
				if !r.firstOther(name) { // a caller that looks for no names
					ok = false
					break
				}
				if len(got) == 0 {
					first = string(v.raw)
				}
				got = append(got, string(name))
			}
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if strings.Join(got, ",") != strings.Join(tt.names, ",") {
				t.Errorf("names = %q, want %q", got, tt.names)
			}
			if tt.first != "" && first != tt.first {
				t.Errorf("first value = %q, want %q", first, tt.first)
			}
		})
	}
}

func TestReadDuplicateMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		claims string
		ok     bool
	}{
		{name: "distinct", header: `{"alg":"HS256","typ":"JWT"}`, claims: `{"iss":"a","iat":1,"exp":2,"nbf":0,"jti":"x","orig_iat":1,"aud":"y"}`, ok: true},
		{name: "alg twice", header: `{"alg":"HS256","alg":"HS256"}`, claims: `{}`},
		{name: "crit twice", header: `{"crit":[],"crit":[]}`, claims: `{}`},
		{name: "other header member twice", header: `{"typ":"JWT","typ":"JWT"}`, claims: `{}`},
		{name: "iss twice", header: `{}`, claims: `{"iss":"a","iss":"a"}`},
		{name: "escaped exp twice", header: `{}`, claims: `{"exp":1,"\u0065xp":1}`},
		{name: "jti twice", header: `{}`, claims: `{"jti":"a","jti":"b"}`},
		{name: "orig_iat twice", header: `{}`, claims: `{"orig_iat":1,"orig_iat":1}`},
		{name: "other claim twice", header: `{}`, claims: `{"aud":1,"aud":1}`},
		{name: "same name in header and claims", header: `{"iss":"a"}`, claims: `{"iss":"a"}`, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc := &scratch{}
			var tc tokenClaims
			ok := readHeader([]byte(tt.header), sc, &tc) && readClaims([]byte(tt.claims), sc, &tc)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
		})
	}
}

func TestPythonInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1700000000", 1700000000, true},
		{" \t1700000000\n", 1700000000, true},
		{"+12", 12, true},
		{"-12", -12, true},
		{"1_000", 1000, true},
		{"007", 7, true},
		{"", 0, false},
		{" ", 0, false},
		{"-", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"abc", 0, false},
		{"_1", 0, false},
		{"1_", 0, false},
		{"1__0", 0, false},
		{"0x10", 0, false},
		{"\u00a01", 0, false},
	}
	for _, tt := range tests {
		got, ok := pythonInt([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("pythonInt(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDecodeSegment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		end  int
		ok   bool
	}{
		{"", "", 0, true},
		{"YQ", "a", 2, true},
		{"YWI", "ab", 3, true},
		{"YWJj", "abc", 4, true},
		{"YR", "a", 2, true}, // unused bits set: same bytes as "YQ"
		{"-_-_", "\xfb\xff\xbf", 4, true},
		{"YWJjZGVm", "abcdef", 8, true},
		{"YWJjZGVmZw", "abcdefg", 10, true},
		{"YWJjZGVmZ2hpamts", "abcdefghijkl", 16, true},
		// The segment ends at the first byte outside the alphabet; the
		// caller refuses any such byte but a dot.
		{"YWI.x", "ab", 3, true},
		{"YWJjZGVmZ2.x", "abcdefg", 10, true},
		{"YWJjZGVm.", "abcdef", 8, true},
		{"YQ==", "a", 2, true},
		{"YW Jj", "a", 2, true},
		{"YWJj\r", "abc", 4, true},
		{"Y", "", 0, false},
		{"YWJjZ", "", 0, false},
		{"YWJjZGVmZ.", "", 0, false},
	}
	for _, tt := range tests {
		// Also the least room decodeJWS's contract allows (3/4 of the
		// input): the eight-character groups store eight bytes at a time
		// and must give way to the narrower loops near the end of dst.
		for _, room := range []int{32, len(tt.in) * 3 / 4} {
			dst := make([]byte, room)
			got, end, ok := decodeSegment(dst, []byte(tt.in))
			if ok != tt.ok || (ok && (string(got) != tt.want || end != tt.end)) {
				t.Errorf("decodeSegment(%q) with %d bytes of room = %q, %d, %v; want %q, %d, %v",
					tt.in, room, got, end, ok, tt.want, tt.end, tt.ok)
			}
		}
	}
}

func TestDecodeJWS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                   string
		header, payload, sig string
		dot2                 int
		ok                   bool
	}{
		{"YQ.YWI.YWJj", "a", "ab", "abc", 6, true},
		{"..", "", "", "", 1, true},
		{"YWJjZGVmZ2hp.YWJjZGVmZ2hp.YWJjZGVmZ2hp", "abcdefghi", "abcdefghi", "abcdefghi", 25, true},
		{"YQ.YWI", "", "", "", 0, false},
		{"YQ.YWI.YWJj.", "", "", "", 0, false},
		{"YQ.YWI.YWJj.YQ.YQ", "", "", "", 0, false},
		{"YWJj", "", "", "", 0, false},
		{"YQ==.YWI.YWJj", "", "", "", 0, false},
		{"YQ.YW\nI.YWJj", "", "", "", 0, false},
		{"YQ.YWI.YWJj\r", "", "", "", 0, false},
		{"YQ.YWI.YW+j", "", "", "", 0, false},
		{"YQ.YWI.YW/j", "", "", "", 0, false},
		{"Y.YWI.YWJj", "", "", "", 0, false},
		{"YQ.YWI.YWJjZ", "", "", "", 0, false},
	}
	for _, tt := range tests {
		var dst [64]byte
		h, p, s, dot2, ok := decodeJWS(dst[:], []byte(tt.in))
		if ok != tt.ok || (ok && (string(h) != tt.header || string(p) != tt.payload || string(s) != tt.sig || dot2 != tt.dot2)) {
			t.Errorf("decodeJWS(%q) = %q, %q, %q, %d, %v; want %q, %q, %q, %d, %v",
				tt.in, h, p, s, dot2, ok, tt.header, tt.payload, tt.sig, tt.dot2, tt.ok)
		}
	}
}

// FuzzDecodeJWS checks decodeJWS against the standard library: exactly two
// dots, and each segment one that base64.RawURLEncoding decodes to the same
// bytes, with none of the CR and LF it would skip.
func FuzzDecodeJWS(f *testing.F) {
	for _, seed := range []string{
		"YQ.YWI.YWJj", "..", "YQ.YWI", "a.b.c.d", "YQ==.YQ.YQ", "YR.YWJjZGVmZ2hp.YWJjZGVmZ2hpamtsbW5v",
		"YW\nI.YQ.YQ", "YWJjZGVmZ.YQ.YQ", "-_-_.__.AA",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		dst := make([]byte, len(tok)*3/4) // the least decodeJWS may be given
		h, p, s, dot2, ok := decodeJWS(dst, []byte(tok))
		parts := strings.Split(tok, ".")
		want := len(parts) == 3 && !strings.ContainsAny(tok, "\r\n")
		var dec [3][]byte
		for i, part := range parts {
			if !want {
				break
			}
			var err error
			dec[i], err = base64.RawURLEncoding.DecodeString(part)
			want = err == nil
		}
		if ok != want {
			t.Fatalf("decodeJWS(%q) ok = %v; base64.RawURLEncoding says %v", tok, ok, want)
		}
		if !ok {
			return
		}
		if !bytes.Equal(h, dec[0]) || !bytes.Equal(p, dec[1]) || !bytes.Equal(s, dec[2]) || dot2 != len(parts[0])+1+len(parts[1]) {
			t.Fatalf("decodeJWS(%q) = %q, %q, %q, %d; want %q, %q, %q", tok, h, p, s, dot2, dec[0], dec[1], dec[2])
		}
	})
}

// TestKnownHeaders reads each header the verifier knows without reading it,
// as it reads any other: each must be one canonical base64url segment of a
// JSON object that says alg HS256 and nothing the verifier refuses.
func TestKnownHeaders(t *testing.T) {
	for _, h := range knownHeaders {
		text, err := base64.RawURLEncoding.Strict().DecodeString(h)
		if err != nil {
			t.Errorf("%s: %v", h, err)
			continue
		}
		var dst [MaxTokenBytes]byte
		header, end, ok := decodeSegment(dst[:], []byte(h))
		var tc tokenClaims
		sc := &scratch{}
		if !ok || end != len(h) || string(header) != string(text) || !readHeader(header, sc, &tc) ||
			tc.critOrB64 || tc.alg.kind != jsonString || string(tc.alg.raw) != "HS256" {
			t.Errorf("%s (%s): not read as a plain HS256 header: %+v", h, text, tc)
		}
	}
}
