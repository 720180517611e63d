// Package drf writes JSON response bodies the way addons.mozilla.org's
// Django REST framework does (docs/AMO.md §2): compact, non-ASCII as UTF-8,
// the escapes of Python's json.dumps(ensure_ascii=False) plus DRF's escapes
// of U+2028 and U+2029. Package middleware writes its refusals with it, and
// package mockamo its other errors.
package drf

import (
	"net/http"
	"unicode/utf8"
)

// WriteDetail writes status with the JSON body {"detail":"<detail>"} and
// Content-Type: application/json, the shape of every DRF error response.
func WriteDetail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(DetailBody(detail))
}

// DetailBody returns {"detail":"<detail>"}. Control characters, `"`, `\`,
// U+2028 and U+2029 are escaped; other characters are written as UTF-8, and
// invalid UTF-8 as U+FFFD.
func DetailBody(detail string) []byte {
	body := make([]byte, 0, len(detail)+len(`{"detail":""}`))
	body = append(body, `{"detail":`...)
	body = AppendString(body, detail)
	return append(body, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string the way Python's
// json.dumps(ensure_ascii=False) writes it, plus DRF's escaping of U+2028
// and U+2029.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\u2028':
			dst = append(dst, `\u2028`...)
		case r == '\u2029':
			dst = append(dst, `\u2029`...)
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\uFFFD"...)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
