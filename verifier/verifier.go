// Package verifier checks addons.mozilla.org API JWTs: HS256 JWS tokens whose
// claims are iss (the API key), jti (a nonce), iat and exp (SPEC §1).
//
// Verify applies the checks of SPEC §3 in order and answers the first failure
// with an *Error that carries the SPEC reason code and the exact text
// addons.mozilla.org sends. It parses each token once: the framing and the
// JSON are decoded here, strictly and without reflection; the HMAC-SHA256
// check is jwx's (github.com/lestrrat-go/jwx/v2/jws). The protected
// headers that AMO clients send are known in advance, spelled byte for
// byte, and not read at all. It knows nothing of HTTP; see package
// middleware for that.
package verifier

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/amojwt/amojwt/noncestore"
)

// Verifier checks tokens against a KeyStore and records their nonces in a
// noncestore.Store. It is safe for concurrent use.
type Verifier struct {
	keys        KeyStore
	byteKeys    byteLookup // keys, when it can look up without a string copy
	store       noncestore.Store
	hs256       jws.Verifier
	profile     Profile
	leeway      float64 // seconds
	maxLifetime float64 // seconds
	allowReuse  bool
	now         func() time.Time
	observer    func(Decision)
}

// byteLookup is implemented by this package's key stores, which never keep
// the issuer they are asked for, so the verifier can look up with a view of
// its scratch buffer instead of a fresh string, and which hold each secret
// ready for jwx (a zero heldKey: not found).
type byteLookup interface {
	lookupBytes(issuer []byte) heldKey
}

func (s *StaticKeys) lookupBytes(issuer []byte) heldKey { return s.keys[string(issuer)] }

func (kf *KeysFile) lookupBytes(issuer []byte) heldKey { return kf.keys.Load().lookupBytes(issuer) }

// New returns a Verifier that finds secrets in keys. Without WithNonceStore
// it remembers nonces in a new in-memory store (noncestore.NewMemory with its
// defaults and the verifier's clock). A store given with WithNonceStore must
// read the same clock as the verifier: it holds each nonce until exp + leeway
// by its own clock. It returns an error for a nil KeyStore or an invalid option.
func New(keys KeyStore, opts ...Option) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("verifier: nil key store")
	}
	c := config{
		profile:     ProfileAMO,
		leeway:      DefaultLeeway,
		maxLifetime: DefaultMaxLifetime,
		now:         time.Now,
	}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if c.store == nil && !c.allowReuse {
		m, err := noncestore.NewMemory(noncestore.WithClock(c.now))
		if err != nil {
			return nil, fmt.Errorf("verifier: default nonce store: %w", err)
		}
		c.store = m
	}
	hs256, err := jws.NewVerifier(jwa.HS256)
	if err != nil {
		return nil, fmt.Errorf("verifier: jwx HS256 verifier: %w", err)
	}
	v := &Verifier{
		keys:        keys,
		store:       c.store,
		hs256:       hs256,
		profile:     c.profile,
		leeway:      c.leeway.Seconds(),
		maxLifetime: c.maxLifetime.Seconds(),
		allowReuse:  c.allowReuse,
		now:         c.now,
		observer:    c.observer,
	}
	v.byteKeys, _ = keys.(byteLookup)
	return v, nil
}

// Principal is who an accepted token speaks for (SPEC §8), with its verified
// claims. Times are the claims' NumericDates (seconds since the epoch, UTC)
// as time.Time.
type Principal struct {
	// Issuer is the API key: the key store's spelling of the iss claim
	// (Key.Issuer), or the claim itself when the store leaves it empty.
	Issuer string
	// UserID is the key's user id: from the key store, else parsed from
	// "user:<id>:<n>", else 0.
	UserID int64
	// User is the account from the key store, or nil when it does not know it.
	User *User
	// Nonce is the jti claim, or "" when the token carried none (then the
	// token could not be checked for replay; SPEC §5).
	Nonce string
	// IssuedAt and ExpiresAt are the iat and exp claims.
	IssuedAt, ExpiresAt time.Time
	// NotBefore is the nbf claim, or the zero time when absent.
	NotBefore time.Time
}

// scratch holds the decoded segments of one token; pooled so that Verify
// allocates nothing for them.
type scratch struct {
	seg   [MaxTokenBytes]byte // decoded header, payload and signature
	input [MaxTokenBytes]byte // a copy of the token
	arena []byte
	names [][]byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{arena: make([]byte, 0, 512), names: make([][]byte, 0, 16)}
}}

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

// tokenClaims are the claims and header members the checks read.
type tokenClaims struct {
	alg                     jsonValue
	critOrB64               bool
	iss, iat, exp, nbf, jti jsonValue
	origIat                 bool
}

// Verify checks token, a JWS in compact serialization (the credentials of
// "Authorization: JWT <token>"), and returns the Principal it speaks for.
//
// The checks run in the order of SPEC §3 and the first failure answers: the
// error is then always an *Error whose Reason names the rule (unwrapping to
// ErrMalformed, ErrIssuerUnknown, ErrExpired, ErrReplayed, ...). A key store
// or nonce store that fails gives ReasonUnavailable (HTTP 503, SPEC §7), never
// an unchecked accept. The nonce is claimed last, so an invalid token never
// touches the store.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	p, d := v.Check(ctx, token)
	if d.Err != nil {
		return nil, d.Err
	}
	return p, nil
}

// Check is Verify returning the whole Decision (issuer, reason, whether a
// nonce was checked and how long the store took) for callers that log or
// count decisions, such as package middleware. d.Err is nil exactly when the
// Principal is non-nil; otherwise it is an *Error.
func (v *Verifier) Check(ctx context.Context, token string) (*Principal, Decision) {
	var d Decision
	p, err := v.verify(ctx, token, &d)
	if err != nil {
		d.Reason = err.Reason
		d.Err = err
		p = nil
	}
	if v.observer != nil {
		v.observer(d)
	}
	return p, d
}

func (v *Verifier) verify(ctx context.Context, token string, d *Decision) (*Principal, *Error) {
	// SPEC §3 row 1 and §6: framing, size, base64url, JSON.
	if len(token) > MaxTokenBytes {
		return nil, errMalformed
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.arena = sc.arena[:0]
	// One copy of the token serves as the JWS signing input (its first two
	// segments) and as the source the segments are decoded from.
	tok := sc.input[:copy(sc.input[:], token)]
	var (
		header, payload, signature []byte
		dot2                       int
		ok                         bool
		tc                         tokenClaims
	)
	// dot1 is the first dot when the header is a known one; 0 when it is
	// to be read.
	dot1 := knownHeader(token)
	if dot1 > 0 {
		payload, signature, dot2, ok = decodeSigned(sc.seg[:], tok, dot1)
	} else {
		header, payload, signature, dot2, ok = decodeJWS(sc.seg[:], tok)
		ok = ok && readHeader(header, sc, &tc)
	}
	if !ok || !readClaims(payload, sc, &tc) {
		return nil, errMalformed
	}
	if tc.critOrB64 {
		return nil, errAlgorithm
	}

	// Rows 2-3: the issuer names an active key.
	if tc.iss.kind == jsonAbsent {
		return nil, errIssuerMissing
	}
	if tc.iss.kind != jsonString {
		return nil, errIssuerUnknown
	}
	k, kerr := v.lookup(ctx, tc.iss.raw)
	if kerr != nil {
		return nil, kerr
	}
	key := k.key
	// The key store's spelling names the principal and its nonces, so that
	// spellings a store treats as one key share one nonce namespace.
	issuer := key.Issuer
	if issuer == "" {
		issuer = string(tc.iss.raw)
	}
	d.Issuer = issuer

	// Row 4: alg is exactly HS256. Row 5: the HMAC matches.
	if dot1 == 0 && (tc.alg.kind != jsonString || string(tc.alg.raw) != "HS256") {
		return nil, errAlgorithm
	}
	if v.hs256.Verify(tok[:dot2], signature, k.hmacKey) != nil {
		return nil, errSignature
	}

	// Rows 6-12: the time claims (SPEC §4 for their types).
	times, terr := v.checkTimes(&tc)
	if terr != nil {
		return nil, terr
	}
	if tc.origIat {
		return nil, errRefreshable
	}
	if tc.nbf.kind != jsonAbsent {
		nbf, ok := numericDate(tc.nbf)
		if !ok {
			if tc.nbf.kind == jsonNumber {
				return nil, errWrongType
			}
			return nil, errNotYetValid
		}
		if math.Trunc(nbf) > times.now+v.leeway {
			return nil, errNotYetValid
		}
		times.nbf = nbf
	}

	// Row 13: the nonce.
	d.HasNonce = tc.jti.kind != jsonAbsent
	if !d.HasNonce {
		if v.profile == ProfileStrict {
			return nil, errNonceMissing
		}
	} else if tc.jti.kind != jsonString || len(tc.jti.raw) == 0 || len(tc.jti.raw) > MaxNonceBytes {
		return nil, errNonceInvalid
	}

	// Row 14: the account.
	if u := key.User; u != nil {
		if u.Deleted {
			return nil, errUserDisabled
		}
		if u.ReadDevAgreement == nil {
			return nil, errAgreementMissing
		}
	}

	p := newPrincipal(tc.jti.raw)
	p.Issuer = issuer
	p.UserID = k.userID
	p.User = key.User
	p.IssuedAt = secondsToTime(times.iat)
	p.ExpiresAt = secondsToTime(times.exp)
	if tc.nbf.kind != jsonAbsent {
		p.NotBefore = secondsToTime(times.nbf)
	}

	// Row 15 and the reset guard of SPEC §5: claim the nonce, last.
	if d.HasNonce && !v.allowReuse {
		if err := v.claim(ctx, p, times, d); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// principalBox is a Principal with room for its Nonce in one allocation:
// 160 bytes, a size class of its own. The room takes the jti of every
// client we know of (a UUID is 36 bytes, Python's str(random.random()) at
// most 24); a longer one gets its own string.
type principalBox struct {
	p     Principal
	nonce [40]byte
}

// newPrincipal returns a Principal whose Nonce is a copy of jti.
func newPrincipal(jti []byte) *Principal {
	if len(jti) == 0 || len(jti) > len(principalBox{}.nonce) {
		return &Principal{Nonce: string(jti)}
	}
	b := new(principalBox)
	// b.nonce is written here only, so the string never changes.
	b.p.Nonce = unsafe.String(&b.nonce[0], copy(b.nonce[:], jti))
	return &b.p
}

// lookup finds the key for the issuer (SPEC §3 row 3), with the secret as
// jwx's HS256 verifier takes it and the user id.
func (v *Verifier) lookup(ctx context.Context, issuer []byte) (heldKey, *Error) {
	if v.byteKeys != nil {
		k := v.byteKeys.lookupBytes(issuer)
		if !k.key.usable() {
			return heldKey{}, errIssuerUnknown
		}
		return k, nil
	}
	key, err := v.keys.Lookup(ctx, string(issuer))
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			return heldKey{}, errIssuerUnknown
		}
		return heldKey{}, unavailable(fmt.Errorf("key store: %w", err))
	}
	if !key.usable() {
		return heldKey{}, errIssuerUnknown
	}
	return heldKey{key: key, hmacKey: []byte(key.Secret), userID: key.UserID()}, nil
}

// claim records the nonce until the first instant at which the token is
// refused as expired (SPEC §3 row 9, §5). Row 9 compares whole seconds,
// floor(now), so that instant is trunc(exp) + leeway rounded up to a whole
// second: every store, whatever its precision, then holds the nonce for as
// long as the token is accepted, fractional leeways included.
func (v *Verifier) claim(ctx context.Context, p *Principal, t times, d *Decision) *Error {
	until := secondsToTime(math.Ceil(math.Trunc(t.exp) + v.leeway))
	var start time.Time
	if v.observer != nil {
		start = time.Now()
	}
	epoch, err := v.store.Claim(ctx, p.Issuer, p.Nonce, until)
	if v.observer != nil {
		d.StoreCalled = true
		d.StoreLatency = time.Since(start)
	}
	switch {
	case errors.Is(err, noncestore.ErrReplayed):
		return errReplayed
	case err != nil:
		return unavailable(err)
	}
	// A token acceptable before the store's epoch may have been used then
	// (SPEC §5): trunc(iat) <= floor(epoch) + leeway.
	if !epoch.IsZero() && math.Trunc(t.iat) <= float64(epoch.Unix())+v.leeway {
		return errNonceStoreReset
	}
	return nil
}

// times are the checked time claims, in seconds since the epoch.
type times struct {
	now           float64 // floor of the clock
	iat, exp, nbf float64
}

// checkTimes applies SPEC §3 rows 6-10 with the typing rules of §4.
func (v *Verifier) checkTimes(tc *tokenClaims) (times, *Error) {
	t := times{now: float64(v.now().Unix())}
	// Row 6: exp, then iat, present and not null.
	if tc.exp.kind == jsonAbsent || tc.exp.kind == jsonNull {
		return t, errExpMissing
	}
	if tc.iat.kind == jsonAbsent || tc.iat.kind == jsonNull {
		return t, errIatMissing
	}
	// Rows 7-8: iat.
	switch tc.iat.kind {
	case jsonNumber:
		iat, ok := numericDate(tc.iat)
		if !ok {
			return t, errWrongType
		}
		if iat > t.now+v.leeway {
			return t, errIssuedInFuture
		}
		t.iat = iat
	case jsonString:
		if _, ok := pythonInt(tc.iat.raw); ok {
			return t, errWrongType
		}
		return t, errIssuedInFuture
	default:
		return t, errWrongType
	}
	// Row 9: exp.
	switch tc.exp.kind {
	case jsonNumber:
		exp, ok := numericDate(tc.exp)
		if !ok {
			return t, errWrongType
		}
		if math.Trunc(exp) <= t.now-v.leeway {
			return t, errExpired
		}
		t.exp = exp
	case jsonString:
		exp, ok := pythonInt(tc.exp.raw)
		if !ok {
			return t, errExpNotInteger
		}
		if exp <= t.now-v.leeway {
			return t, errExpired
		}
		// Row 10: a string exp cannot be subtracted.
		return t, errWrongType
	default:
		return t, errWrongType
	}
	// Row 10: lifetime on the raw values.
	if t.exp-t.iat > v.maxLifetime {
		return t, errLifetimeTooLong
	}
	return t, nil
}

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

func secondsToTime(s float64) time.Time {
	sec := math.Floor(s)
	return time.Unix(int64(sec), int64((s-sec)*1e9)).UTC()
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

// readHeader reads the protected header (RFC 7515 §4): alg, and whether it
// asks for extensions this package does not understand (crit, b64; SPEC §6).
// Duplicate member names are malformed (SPEC §6).
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

// readClaims reads the claims set (RFC 7519 §4.1). Duplicate member names
// are malformed (SPEC §6).
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
// with no duplicate name.
func readObject(data []byte, sc *scratch, member func(name []byte, val jsonValue) (known, first bool)) bool {
	r, ok := newJSONObjectReader(data, &sc.arena, &sc.names)
	for ok {
		name, val, done, valid := r.next()
		switch {
		case !valid:
			return false
		case done:
			return true
		}
		known, first := member(name, val)
		if !known {
			first = r.firstOther(name)
		}
		ok = first
	}
	return false
}
