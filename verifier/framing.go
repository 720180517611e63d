package verifier

import "encoding/binary"

// The compact serialization of a JWS (RFC 7515 §7.1): three base64url
// segments and two dots, decoded strictly (SPEC §6).

// knownHeaders are the protected header segments (base64url, RFC 7515
// §7.1) that AMO clients send, each with its JSON text. What a header says
// is a function of its bytes alone, and each of these says alg HS256 and
// nothing this package refuses (TestKnownHeaders reads them), so a token
// that begins with one of them and a dot is judged as if it were read.
var knownHeaders = [...]string{
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", // {"alg":"HS256","typ":"JWT"}: PyJWT 2, jsonwebtoken, golang-jwt
	"eyJhbGciOiJIUzI1NiJ9",                 // {"alg":"HS256"}: web-ext (jose)
	"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9", // {"typ":"JWT","alg":"HS256"}: PyJWT 1
}

// knownHeader returns the length of the known header segment that token
// begins with, followed by a dot, or 0.
func knownHeader(token string) int {
	for _, h := range knownHeaders {
		if len(token) > len(h) && token[len(h)] == '.' && token[:len(h)] == h {
			return len(h)
		}
	}
	return 0
}

// decodeJWS decodes the three segments of a compact JWS (RFC 7515 §7.1)
// into dst, one after the other, and returns them with the position of the
// second dot. It refuses anything but exactly two dots between three
// segments that decodeSegment accepts (SPEC §6: every dot counts, nothing
// is split off). dst must hold at least 3/4 of len(tok) bytes.
func decodeJWS(dst, tok []byte) (header, payload, signature []byte, dot2 int, ok bool) {
	header, dot1, ok := decodeSegment(dst, tok)
	if !ok || dot1 == len(tok) || tok[dot1] != '.' {
		return nil, nil, nil, 0, false
	}
	payload, signature, dot2, ok = decodeSigned(dst[len(header):], tok, dot1)
	if !ok {
		return nil, nil, nil, 0, false
	}
	return header, payload, signature, dot2, true
}

// decodeSigned is decodeJWS after the header: it decodes the payload and
// signature segments of tok, whose first dot is at dot1, into dst.
func decodeSigned(dst, tok []byte, dot1 int) (payload, signature []byte, dot2 int, ok bool) {
	payload, end, ok := decodeSegment(dst, tok[dot1+1:])
	dot2 = dot1 + 1 + end
	if !ok || dot2 == len(tok) || tok[dot2] != '.' {
		return nil, nil, 0, false
	}
	signature, end, ok = decodeSegment(dst[len(payload):], tok[dot2+1:])
	if !ok || dot2+1+end != len(tok) {
		return nil, nil, 0, false
	}
	return payload, signature, dot2, true
}

// decodeSegment decodes the unpadded base64url segment (RFC 7515 §2) that
// begins seg and ends at its first byte outside the alphabet (or at its
// end) into dst, and returns the decoded bytes and the segment's length.
// The caller decides whether the byte that ended it may end a segment: only
// a dot may, so padding and any character Go's decoder would skip (CR, LF)
// are refused there. It refuses the impossible length 4n+1. Unused low bits
// of the last character are ignored, as PyJWT does; replays are keyed on
// the jti, not on the bytes (SPEC §5).
func decodeSegment(dst, seg []byte) (out []byte, end int, ok bool) {
	n, i := 0, 0
	// Eight characters at a time make one 64-bit word whose top six bytes
	// are the ones they encode, stored at once; the two bytes stored after
	// them are overwritten by the next group or lie past the result.
	for len(seg)-i >= 8 && len(dst)-n >= 8 {
		s := seg[i : i+8]
		a, b, c, d := base64urlValue[s[0]], base64urlValue[s[1]], base64urlValue[s[2]], base64urlValue[s[3]]
		e, f, g, h := base64urlValue[s[4]], base64urlValue[s[5]], base64urlValue[s[6]], base64urlValue[s[7]]
		if (a|b|c|d|e|f|g|h)&0xC0 != 0 {
			break // the segment ends in this group
		}
		v := uint64(a)<<58 | uint64(b)<<52 | uint64(c)<<46 | uint64(d)<<40 |
			uint64(e)<<34 | uint64(f)<<28 | uint64(g)<<22 | uint64(h)<<16
		binary.BigEndian.PutUint64(dst[n:], v)
		n += 6
		i += 8
	}
	for len(seg)-i >= 4 {
		s := seg[i : i+4]
		a, b, c, d := base64urlValue[s[0]], base64urlValue[s[1]], base64urlValue[s[2]], base64urlValue[s[3]]
		if (a|b|c|d)&0xC0 != 0 {
			break
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
		i += 4
	}
	// Fewer than four characters are left before the end.
	end = i
	for end < len(seg) && end-i < 3 && base64urlValue[seg[end]] < 64 {
		end++
	}
	switch end - i {
	case 1:
		return nil, 0, false
	case 2:
		a, b := base64urlValue[seg[i]], base64urlValue[seg[i+1]]
		dst[n] = a<<2 | b>>4
		n++
	case 3:
		a, b, c := base64urlValue[seg[i]], base64urlValue[seg[i+1]], base64urlValue[seg[i+2]]
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	return dst[:n], end, true
}

// base64urlValue maps the RFC 4648 §5 alphabet to its 6-bit values and
// every other byte to 0xFF.
var base64urlValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = byte(i)
	}
	return t
}()
