// Package verifier checks addons.mozilla.org API JWTs: HS256 JWS tokens whose
// claims are iss (the API key), jti (a nonce), iat and exp (SPEC §1).
//
// Verify applies the checks of SPEC §3 in order and answers the first
// failure with an *Error: its Reason is the SPEC reason code, its Detail
// the exact text addons.mozilla.org sends, its Rule the SPEC row that
// failed, and errors.Is matches the reason's sentinel (ErrExpired, ...).
// Check returns the same verdict with a Decision, the record of what the
// check did, for logs and metrics.
//
// A token is parsed once: the framing and the JSON are decoded here,
// strictly and without reflection; the HMAC-SHA256 check is jwx's
// (github.com/lestrrat-go/jwx/v2/jws). The protected headers that AMO
// clients send are known in advance, spelled byte for byte, and not read at
// all. The package knows nothing of HTTP; see package middleware for that.
//
// Keys come from a KeyStore (StaticKeys, KeysFile or the caller's own); the
// jti of each accepted token is claimed in a noncestore.Store, as the
// ReplayPolicy says.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/amojwt/amojwt/noncestore"
)

// Verifier checks tokens against a KeyStore and claims their nonces in a
// noncestore.Store. It is safe for concurrent use.
type Verifier struct {
	keys        KeyStore
	byteKeys    byteLookup // keys, when it can look up without a string copy
	store       noncestore.Store
	hs256       jws.Verifier
	profile     Profile
	replay      ReplayPolicy
	leeway      float64 // seconds
	maxLifetime float64 // seconds
	now         func() time.Time
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

// New returns a Verifier that finds secrets in keys, configured by opts. It
// checks the whole configuration once and returns an error for a nil
// KeyStore or an invalid option. Unless WithNonceStore gives a store, or
// WithReplay(ReplayAllow) needs none, it claims nonces in a new in-memory
// store (noncestore.NewMemory with its defaults and the verifier's clock).
func New(keys KeyStore, opts ...Option) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("verifier: nil key store")
	}
	c := config{leeway: DefaultLeeway, maxLifetime: DefaultMaxLifetime, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.store == nil && c.replay != ReplayAllow {
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
		replay:      c.replay,
		leeway:      c.leeway.Seconds(),
		maxLifetime: c.maxLifetime.Seconds(),
		now:         c.now,
	}
	v.byteKeys, _ = keys.(byteLookup)
	return v, nil
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
	return &scratch{arena: make([]byte, 0, 512), names: make([][]byte, 0, MaxMembers)}
}}

// Verify checks token, a JWS in compact serialization (the credentials of
// "Authorization: JWT <token>"), and returns the Principal it speaks for.
//
// The checks run in the order of SPEC §3 and the first failure answers: the
// error is then always an *Error (see Error for the ways to branch on it).
// A key store that fails gives ReasonUnavailable (HTTP 503, SPEC §7), never
// an unchecked accept, and so does a nonce store that fails, except under
// ReplayReport, which accepts as addons.mozilla.org does (Check's Decision
// keeps the store's error). The nonce is claimed last, so an invalid token
// never touches the store.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	p, d := v.Check(ctx, token)
	if d.Err != nil {
		return nil, d.Err
	}
	return p, nil
}

// Check is Verify returning the Decision, the record of what it did (the
// issuer once known, whether the token had a jti, the nonce store's call,
// the refusal), for callers that log or count decisions, such as package
// middleware. d.Err is nil exactly when the Principal is not.
func (v *Verifier) Check(ctx context.Context, token string) (*Principal, Decision) {
	var d Decision
	p, err := v.verify(ctx, token, &d)
	if err != nil {
		d.Err = err
		p = nil
	}
	return p, d
}

func (v *Verifier) verify(ctx context.Context, token string, d *Decision) (*Principal, *Error) {
	// SPEC §3 row 1 and §6: framing, size, base64url, JSON.
	if len(token) > MaxTokenBytes {
		return nil, failMalformed.err()
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
		return nil, failMalformed.err()
	}
	if tc.critOrB64 {
		return nil, failExtension.err()
	}

	// Rows 2-3: the issuer names an active key.
	if tc.iss.kind == jsonAbsent {
		return nil, failIssuerMissing.err()
	}
	if tc.iss.kind != jsonString {
		return nil, failIssuerUnknown.err()
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
		return nil, failAlgorithm.err()
	}
	if v.hs256.Verify(tok[:dot2], signature, k.hmacKey) != nil {
		return nil, failSignature.err()
	}

	// Rows 6-12: the time claims (SPEC §4 for their types).
	times, terr := v.checkTimes(&tc)
	if terr != passed {
		return nil, terr.err()
	}
	if tc.origIat {
		return nil, failRefreshable.err()
	}
	if tc.nbf.kind != jsonAbsent {
		nbf, ok := numericDate(tc.nbf)
		if !ok {
			if tc.nbf.kind == jsonNumber {
				return nil, failNbfType.err()
			}
			return nil, failNotYetValid.err()
		}
		if math.Trunc(nbf) > times.now+v.leeway {
			return nil, failNotYetValid.err()
		}
		times.nbf = nbf
	}

	// Row 13: the nonce.
	d.HasNonce = tc.jti.kind != jsonAbsent
	if !d.HasNonce {
		if v.profile == ProfileStrict {
			return nil, failNonceMissing.err()
		}
	} else if tc.jti.kind != jsonString || len(tc.jti.raw) == 0 || len(tc.jti.raw) > MaxNonceBytes {
		return nil, failNonceInvalid.err()
	}

	// Row 14: the account.
	if u := key.User; u != nil {
		if u.Deleted {
			return nil, failUserDisabled.err()
		}
		if u.ReadDevAgreement == nil {
			return nil, failAgreementMissing.err()
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
	if d.HasNonce && v.replay != ReplayAllow {
		if f := v.claim(ctx, p, times, d); f != passed {
			if v.replay == ReplayRefuse {
				if f == failUnavailable {
					return nil, unavailable(d.StoreErr)
				}
				return nil, f.err()
			}
			// ReplayReport: accepted as AMO accepts it, and said so.
			p.Reused = f != failUnavailable
			d.Reused = p.Reused
		}
	}
	return p, nil
}

// lookup finds the key for the issuer (SPEC §3 row 3), with the secret as
// jwx's HS256 verifier takes it and the user id.
func (v *Verifier) lookup(ctx context.Context, issuer []byte) (heldKey, *Error) {
	if v.byteKeys != nil {
		k := v.byteKeys.lookupBytes(issuer)
		if !k.key.usable() {
			return heldKey{}, failIssuerUnknown.err()
		}
		return k, nil
	}
	key, err := v.keys.Lookup(ctx, string(issuer))
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			return heldKey{}, failIssuerUnknown.err()
		}
		return heldKey{}, unavailable(fmt.Errorf("key store: %w", err))
	}
	if !key.usable() {
		return heldKey{}, failIssuerUnknown.err()
	}
	return heldKey{key: key, hmacKey: []byte(key.Secret), userID: key.UserID()}, nil
}

// claim records the nonce until the first instant at which the token is
// refused as expired (SPEC §3 row 9, §5), and records the call in d. Row 9
// compares whole seconds, floor(now), so that instant is trunc(exp) +
// leeway rounded up to a whole second: every store, whatever its
// precision, then holds the nonce for as long as the token is accepted,
// fractional leeways included. It returns the failure the claim gives,
// passed when the nonce is new: failReplayed, failNonceStoreReset, or
// failUnavailable with the store's error in d.StoreErr.
func (v *Verifier) claim(ctx context.Context, p *Principal, t times, d *Decision) failure {
	until := secondsToTime(math.Ceil(math.Trunc(t.exp) + v.leeway))
	start := time.Now()
	epoch, err := v.store.Claim(ctx, p.Issuer, p.Nonce, until)
	d.StoreCalled = true
	d.StoreLatency = time.Since(start)
	switch {
	case errors.Is(err, noncestore.ErrReplayed):
		return failReplayed
	case err != nil:
		d.StoreErr = err
		return failUnavailable
	}
	// A token acceptable before the store's epoch may have been used then
	// (SPEC §5): trunc(iat) <= floor(epoch) + leeway.
	if !epoch.IsZero() && math.Trunc(t.iat) <= float64(epoch.Unix())+v.leeway {
		return failNonceStoreReset
	}
	return passed
}

// times are the checked time claims, in seconds since the epoch.
type times struct {
	now           float64 // floor of the clock
	iat, exp, nbf float64
}

// checkTimes applies SPEC §3 rows 6-10 with the typing rules of §4, and
// returns the failure of the first row that fails, passed when none
// does.
func (v *Verifier) checkTimes(tc *tokenClaims) (times, failure) {
	t := times{now: float64(v.now().Unix())}
	// Row 6: exp, then iat, present and not null.
	if tc.exp.kind == jsonAbsent || tc.exp.kind == jsonNull {
		return t, failExpMissing
	}
	if tc.iat.kind == jsonAbsent || tc.iat.kind == jsonNull {
		return t, failIatMissing
	}
	// Rows 7-8: iat.
	switch tc.iat.kind {
	case jsonNumber:
		iat, ok := numericDate(tc.iat)
		if !ok {
			return t, failIatType
		}
		if iat > t.now+v.leeway {
			return t, failIssuedInFuture
		}
		t.iat = iat
	case jsonString:
		if _, ok := pythonInt(tc.iat.raw); ok {
			return t, failIatType
		}
		return t, failIatNotInteger
	default:
		return t, failIatType
	}
	// Row 9: exp.
	switch tc.exp.kind {
	case jsonNumber:
		exp, ok := numericDate(tc.exp)
		if !ok {
			return t, failExpType
		}
		if math.Trunc(exp) <= t.now-v.leeway {
			return t, failExpired
		}
		t.exp = exp
	case jsonString:
		exp, ok := pythonInt(tc.exp.raw)
		if !ok {
			return t, failExpNotInteger
		}
		if exp <= t.now-v.leeway {
			return t, failExpired
		}
		// Row 10: a string exp cannot be subtracted.
		return t, failLifetimeType
	default:
		return t, failExpType
	}
	// Row 10: lifetime on the raw values.
	if t.exp-t.iat > v.maxLifetime {
		return t, failLifetimeTooLong
	}
	return t, passed
}
