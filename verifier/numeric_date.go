package verifier

import (
	"math"
	"math/big"
	"strconv"
	"time"
)

// NumericDate claims (RFC 7519 §2) as AMO reads them (SPEC §4): JSON
// numbers in 0 .. 2^53, and the strings that Python's int() reads, which
// AMO's PyJWT compares before it notices their type.

// maxNumericDate is 2^53, the largest NumericDate accepted (SPEC §4).
const maxNumericDate = 1 << 53

// numericDate returns the value of a JSON number claim in 0 .. 2^53 (SPEC
// §4); false for any other value or kind.
func numericDate(v jsonValue) (float64, bool) {
	if v.kind != jsonNumber {
		return 0, false
	}
	f, ok := parseNumber(v.raw)
	if !ok || f < 0 || f > maxNumericDate {
		return 0, false
	}
	if f == maxNumericDate && exceedsMaxNumericDate(v.raw) {
		// 2^53 + 1 and 9007199254740992.5 round to 2^53 in a float64.
		return 0, false
	}
	return f, true
}

// secondsToTime is the NumericDate s as a UTC time.Time, to the nanosecond.
func secondsToTime(s float64) time.Time {
	sec := math.Floor(s)
	return time.Unix(int64(sec), int64((s-sec)*1e9)).UTC()
}

// parseNumber converts a JSON number literal. false when it overflows a
// float64 (SPEC §4: such a NumericDate is the wrong type, never a wrap).
func parseNumber(lit []byte) (float64, bool) {
	// Plain integers of up to 15 digits, the common NumericDate, are below
	// 2^53, so exact in a float64, and need no general parser. (An integer
	// sum: one float64 multiply-add a digit is a longer chain.)
	if len(lit) > 0 && len(lit) <= 15 {
		var v uint64
		i := 0
		for ; i < len(lit) && lit[i] >= '0' && lit[i] <= '9'; i++ {
			v = v*10 + uint64(lit[i]-'0')
		}
		if i == len(lit) {
			return float64(v), true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// pythonInt parses s as Python's int() parses a str, which is how AMO's PyJWT
// reads a string iat or exp (SPEC §4): optional surrounding white space, an
// optional sign, decimal digits with single underscores between them. It
// returns the value as a float64 (huge values become huge or infinite, which
// compares correctly). Non-ASCII digits and white space, which Python also
// accepts, are refused here: such a claim gets another 401 text, never an
// accept.
func pythonInt(s []byte) (float64, bool) {
	i, j := 0, len(s)
	for i < j && pythonSpace(s[i]) {
		i++
	}
	for j > i && pythonSpace(s[j-1]) {
		j--
	}
	neg := false
	if i < j && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if i == j {
		return 0, false
	}
	var v float64
	prevDigit := false
	for ; i < j; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v*10 + float64(c-'0')
			prevDigit = true
		case c == '_' && prevDigit && i+1 < j && s[i+1] >= '0' && s[i+1] <= '9':
			prevDigit = false
		default:
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// pythonSpace reports whether c is white space to Python's str.strip in the
// ASCII range.
func pythonSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)
}

// exceedsMaxNumericDate reports whether the number literal lit is larger
// than 2^53 exactly, for the literals that round to 2^53 in a float64.
func exceedsMaxNumericDate(lit []byte) bool {
	f, ok := new(big.Float).SetPrec(1024).SetString(string(lit))
	return !ok || f.Cmp(new(big.Float).SetInt64(maxNumericDate)) > 0
}
