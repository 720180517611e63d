package verifier

import (
	"errors"
	"net/http"
	"strconv"
)

// Reason is the machine-readable code of the rule a request failed: the
// "reason code" column of SPEC §3 (and §2, §5, §7). Reasons are stable
// text: metrics, logs and the conformance vectors (testdata/vectors.json)
// use them. One reason may cover several rules (ReasonClaimType fails SPEC
// §3 rows 7, 9, 10 and 12); Error.Rule tells them apart.
type Reason string

// The reasons, in SPEC order. The AMO detail text each failure answers with
// is in the Detail* constants.
const (
	ReasonNotAuthenticated Reason = "not_authenticated" // SPEC §2.1: no JWT credentials on a protected endpoint
	ReasonHeaderMalformed  Reason = "header_malformed"  // SPEC §2.3-2.5: "JWT" alone, spaces, several headers
	ReasonMalformed        Reason = "malformed"         // SPEC §3 row 1, §6
	ReasonIssuerMissing    Reason = "issuer_missing"    // SPEC §3 row 2
	ReasonIssuerUnknown    Reason = "issuer_unknown"    // SPEC §3 row 3
	ReasonAlgorithm        Reason = "algorithm"         // SPEC §3 row 4; row 1 for crit and b64 (§6)
	ReasonSignature        Reason = "signature"         // SPEC §3 row 5
	ReasonClaimMissing     Reason = "claim_missing"     // SPEC §3 row 6
	ReasonClaimType        Reason = "claim_type"        // SPEC §3 rows 7, 9, 10, 12; §4
	ReasonIssuedInFuture   Reason = "issued_in_future"  // SPEC §3 rows 7-8
	ReasonExpired          Reason = "expired"           // SPEC §3 row 9
	ReasonLifetimeTooLong  Reason = "lifetime_too_long" // SPEC §3 row 10
	ReasonRefreshable      Reason = "refreshable"       // SPEC §3 row 11
	ReasonNotYetValid      Reason = "not_yet_valid"     // SPEC §3 row 12
	ReasonNonceMissing     Reason = "nonce_missing"     // SPEC §3 row 13, strict profile
	ReasonNonceInvalid     Reason = "nonce_invalid"     // SPEC §3 row 13
	ReasonUserDisabled     Reason = "user_disabled"     // SPEC §3 row 14
	ReasonAgreementMissing Reason = "agreement_missing" // SPEC §3 row 14
	ReasonReplayed         Reason = "replayed"          // SPEC §3 row 15
	ReasonNonceStoreReset  Reason = "nonce_store_reset" // SPEC §5 reset guard
	ReasonUnavailable      Reason = "unavailable"       // SPEC §7: a store failed; HTTP 503
)

// The exact `detail` texts that addons.mozilla.org answers with (SPEC §2,
// §3, §5, §7). Byte for byte, including the presence or absence of a final
// period.
const (
	DetailNotAuthenticated  = "Authentication credentials were not provided."
	DetailNoCredentials     = "Invalid Authorization header. No credentials provided."
	DetailCredentialsSpaces = "Invalid Authorization header. Credentials string should not contain spaces."
	DetailDecoding          = "Error decoding signature."
	DetailIssuerMissing     = "JWT iss (issuer) claim is missing."
	DetailIssuerUnknown     = "Unknown JWT iss (issuer)."
	DetailInvalidToken      = "Invalid JWT Token."
	DetailExpMissing        = `Invalid JWT: Token is missing the "exp" claim.`
	DetailIatMissing        = `Invalid JWT: Token is missing the "iat" claim.`
	DetailWrongType         = "Wrong type for one or more keys in payload"
	DetailIssuedInFuture    = "JWT iat (issued at time) is invalid. Make sure your system clock is synchronized with something like TLSdate."
	DetailExpired           = "Signature has expired."
	DetailLifetimeTooLong   = "JWT exp (expiration) is too long."
	DetailRefreshable       = "API key based tokens are not refreshable, don't include `orig_iat` in their payload."
	DetailNotYetValid       = "JWT nbf (not before) is in the future."
	DetailNonceMissing      = "JWT jti (nonce) claim is missing."
	DetailNonceInvalid      = "JWT jti (nonce) is invalid."
	DetailUserDisabled      = "User account is disabled."
	DetailAgreementMissing  = "User has not read developer agreement."
	DetailReplayed          = "JWT jti (nonce) has already been used."
	DetailNonceStoreReset   = "JWT jti (nonce) cannot be checked: token predates the nonce store."
	DetailUnavailable       = "Authentication is temporarily unavailable; try again."
)

// Sentinel errors, one per Reason. errors.Is(err, ErrExpired) reports
// whether err is an *Error of ReasonExpired, so callers branch without
// reading texts.
var (
	ErrNotAuthenticated = errors.New("verifier: no credentials")
	ErrHeaderMalformed  = errors.New("verifier: malformed Authorization header")
	ErrMalformed        = errors.New("verifier: malformed token")
	ErrIssuerMissing    = errors.New("verifier: iss claim missing")
	ErrIssuerUnknown    = errors.New("verifier: unknown issuer")
	ErrAlgorithm        = errors.New("verifier: algorithm not HS256")
	ErrSignature        = errors.New("verifier: signature mismatch")
	ErrClaimMissing     = errors.New("verifier: required claim missing")
	ErrClaimType        = errors.New("verifier: claim has the wrong type")
	ErrIssuedInFuture   = errors.New("verifier: iat in the future")
	ErrExpired          = errors.New("verifier: token expired")
	ErrLifetimeTooLong  = errors.New("verifier: exp too far after iat")
	ErrRefreshable      = errors.New("verifier: orig_iat present")
	ErrNotYetValid      = errors.New("verifier: nbf in the future")
	ErrNonceMissing     = errors.New("verifier: jti missing")
	ErrNonceInvalid     = errors.New("verifier: jti invalid")
	ErrUserDisabled     = errors.New("verifier: user disabled")
	ErrAgreementMissing = errors.New("verifier: developer agreement not read")
	ErrReplayed         = errors.New("verifier: jti already used")
	ErrNonceStoreReset  = errors.New("verifier: token predates the nonce store")
	ErrUnavailable      = errors.New("verifier: store unavailable")
)

// Rule names a rule of docs/SPEC.md: section §Section and, within it, Item:
// the row of §3's table of checks, or the item of §2's list; 0 when the rule
// is the section as a whole. The zero Rule names no rule.
type Rule struct {
	Section, Item int
}

// String returns "§3 row 9" for a row of §3, "§2.3" for an item of another
// section, "§7" for a whole section, and "" for the zero Rule.
func (r Rule) String() string {
	switch {
	case r.Section == 0:
		return ""
	case r.Item == 0:
		return "§" + strconv.Itoa(r.Section)
	case r.Section == 3:
		return "§3 row " + strconv.Itoa(r.Item)
	}
	return "§" + strconv.Itoa(r.Section) + "." + strconv.Itoa(r.Item)
}

// failure indexes failures: one way a request can be refused.
type failure uint8

const (
	// passed is no failure: the check passed. Its row of failures is empty.
	passed failure = iota
	failNotAuthenticated
	failNoCredentials
	failCredentialsSpaces
	failSeveralHeaders
	failHeaderTooLong
	failMalformed
	failExtension
	failIssuerMissing
	failIssuerUnknown
	failAlgorithm
	failSignature
	failExpMissing
	failIatMissing
	failIatType
	failIatNotInteger
	failIssuedInFuture
	failExpType
	failExpNotInteger
	failExpired
	failLifetimeType
	failLifetimeTooLong
	failRefreshable
	failNbfType
	failNotYetValid
	failNonceMissing
	failNonceInvalid
	failUserDisabled
	failAgreementMissing
	failReplayed
	failNonceStoreReset
	failUnavailable
	numFailures
)

// failures is the one table of refusals: for each, its reason code, the
// text AMO answers with, the HTTP status, the sentinel that errors.Is
// matches, and the SPEC rule that fails. A reason that covers several
// rules has a row for each, chosen where the check fails.
var failures = [numFailures]struct {
	reason   Reason
	detail   string
	status   int
	sentinel error
	rule     Rule
}{
	failNotAuthenticated:  {ReasonNotAuthenticated, DetailNotAuthenticated, http.StatusUnauthorized, ErrNotAuthenticated, Rule{2, 1}},
	failNoCredentials:     {ReasonHeaderMalformed, DetailNoCredentials, http.StatusUnauthorized, ErrHeaderMalformed, Rule{2, 3}},
	failCredentialsSpaces: {ReasonHeaderMalformed, DetailCredentialsSpaces, http.StatusUnauthorized, ErrHeaderMalformed, Rule{2, 4}},
	failSeveralHeaders:    {ReasonHeaderMalformed, DetailCredentialsSpaces, http.StatusUnauthorized, ErrHeaderMalformed, Rule{2, 5}},
	failHeaderTooLong:     {ReasonMalformed, DetailDecoding, http.StatusUnauthorized, ErrMalformed, Rule{6, 0}},
	failMalformed:         {ReasonMalformed, DetailDecoding, http.StatusUnauthorized, ErrMalformed, Rule{3, 1}},
	// crit and b64 are refused while decoding, before the issuer (§6).
	failExtension:       {ReasonAlgorithm, DetailInvalidToken, http.StatusUnauthorized, ErrAlgorithm, Rule{3, 1}},
	failIssuerMissing:   {ReasonIssuerMissing, DetailIssuerMissing, http.StatusUnauthorized, ErrIssuerMissing, Rule{3, 2}},
	failIssuerUnknown:   {ReasonIssuerUnknown, DetailIssuerUnknown, http.StatusUnauthorized, ErrIssuerUnknown, Rule{3, 3}},
	failAlgorithm:       {ReasonAlgorithm, DetailInvalidToken, http.StatusUnauthorized, ErrAlgorithm, Rule{3, 4}},
	failSignature:       {ReasonSignature, DetailDecoding, http.StatusUnauthorized, ErrSignature, Rule{3, 5}},
	failExpMissing:      {ReasonClaimMissing, DetailExpMissing, http.StatusUnauthorized, ErrClaimMissing, Rule{3, 6}},
	failIatMissing:      {ReasonClaimMissing, DetailIatMissing, http.StatusUnauthorized, ErrClaimMissing, Rule{3, 6}},
	failIatType:         {ReasonClaimType, DetailWrongType, http.StatusUnauthorized, ErrClaimType, Rule{3, 7}},
	failIatNotInteger:   {ReasonIssuedInFuture, DetailIssuedInFuture, http.StatusUnauthorized, ErrIssuedInFuture, Rule{3, 7}},
	failIssuedInFuture:  {ReasonIssuedInFuture, DetailIssuedInFuture, http.StatusUnauthorized, ErrIssuedInFuture, Rule{3, 8}},
	failExpType:         {ReasonClaimType, DetailWrongType, http.StatusUnauthorized, ErrClaimType, Rule{3, 9}},
	failExpNotInteger:   {ReasonClaimType, DetailDecoding, http.StatusUnauthorized, ErrClaimType, Rule{3, 9}},
	failExpired:         {ReasonExpired, DetailExpired, http.StatusUnauthorized, ErrExpired, Rule{3, 9}},
	failLifetimeType:    {ReasonClaimType, DetailWrongType, http.StatusUnauthorized, ErrClaimType, Rule{3, 10}},
	failLifetimeTooLong: {ReasonLifetimeTooLong, DetailLifetimeTooLong, http.StatusUnauthorized, ErrLifetimeTooLong, Rule{3, 10}},
	failRefreshable:     {ReasonRefreshable, DetailRefreshable, http.StatusUnauthorized, ErrRefreshable, Rule{3, 11}},
	failNbfType:         {ReasonClaimType, DetailWrongType, http.StatusUnauthorized, ErrClaimType, Rule{3, 12}},
	failNotYetValid:     {ReasonNotYetValid, DetailNotYetValid, http.StatusUnauthorized, ErrNotYetValid, Rule{3, 12}},
	failNonceMissing:    {ReasonNonceMissing, DetailNonceMissing, http.StatusUnauthorized, ErrNonceMissing, Rule{3, 13}},
	failNonceInvalid:    {ReasonNonceInvalid, DetailNonceInvalid, http.StatusUnauthorized, ErrNonceInvalid, Rule{3, 13}},
	failUserDisabled:    {ReasonUserDisabled, DetailUserDisabled, http.StatusUnauthorized, ErrUserDisabled, Rule{3, 14}},
	failAgreementMissing: {ReasonAgreementMissing, DetailAgreementMissing, http.StatusUnauthorized, ErrAgreementMissing,
		Rule{3, 14}},
	failReplayed:        {ReasonReplayed, DetailReplayed, http.StatusUnauthorized, ErrReplayed, Rule{3, 15}},
	failNonceStoreReset: {ReasonNonceStoreReset, DetailNonceStoreReset, http.StatusUnauthorized, ErrNonceStoreReset, Rule{5, 0}},
	failUnavailable:     {ReasonUnavailable, DetailUnavailable, http.StatusServiceUnavailable, ErrUnavailable, Rule{7, 0}},
}

// Error is the error of every refused request: Verify's, and the header
// refusals of package middleware (NotAuthenticated, ...). Reason says which
// rule failed, Detail is the text addons.mozilla.org answers with (the HTTP
// layer sends it as {"detail": Detail}), Status the HTTP status and Rule
// the SPEC rule. It never contains the token, its signature or a secret.
//
// An *Error is immutable, and the failures that carry no cause are shared
// values, so refusing a token allocates nothing. errors.Is(err, sentinel)
// matches the sentinel of its Reason (ErrExpired, ...); for
// ReasonUnavailable it also matches the store's error chain (for example
// noncestore.ErrUnavailable), which Unwrap returns. Neither errors.Is nor
// errors.As allocates.
type Error struct {
	f     failure
	cause error
}

// shared holds the *Error of each failure without a cause.
var shared = func() (s [numFailures]Error) {
	for i := range s {
		s[i].f = failure(i)
	}
	return s
}()

// err returns the shared *Error of f.
func (f failure) err() *Error { return &shared[f] }

// unavailable returns the 503 of SPEC §7 for a store that failed with cause.
func unavailable(cause error) *Error { return &Error{f: failUnavailable, cause: cause} }

// The refusals decided before a token reaches a Verifier: the rules of the
// Authorization header (SPEC §2) and its size limit (SPEC §6). Package
// middleware answers with them; like Verify's errors they are shared and
// immutable.
var (
	// NotAuthenticated: no JWT credentials on an endpoint that needs them
	// (SPEC §2.1).
	NotAuthenticated = &Error{f: failNotAuthenticated}
	// HeaderNoCredentials: "JWT" alone (SPEC §2.3).
	HeaderNoCredentials = &Error{f: failNoCredentials}
	// HeaderSpaces: more than two words (SPEC §2.4).
	HeaderSpaces = &Error{f: failCredentialsSpaces}
	// HeaderRepeated: more than one Authorization header (SPEC §2.5).
	HeaderRepeated = &Error{f: failSeveralHeaders}
	// HeaderTooLong: a header value over MaxTokenBytes, ReasonMalformed
	// (SPEC §6).
	HeaderTooLong = &Error{f: failHeaderTooLong}
)

// Reason is the code of the rule that failed.
func (e *Error) Reason() Reason { return failures[e.f].reason }

// Detail is the text addons.mozilla.org answers with, byte for byte.
func (e *Error) Detail() string { return failures[e.f].detail }

// Status is the HTTP status that answers e: 503 for ReasonUnavailable (SPEC
// §7), 401 for everything else (SPEC §2, §3).
func (e *Error) Status() int { return failures[e.f].status }

// Rule is the SPEC rule that failed: a row of §3 (§3 row 9 for an expired
// token, §3 row 7 for an iat of the wrong type), an item of §2 (§2.3 for
// "JWT" alone), §5 for the reset guard, §6 for an oversized header, §7 for
// a store failure.
func (e *Error) Rule() Rule { return failures[e.f].rule }

// Error returns "amojwt: <reason>: <detail>", plus the cause if any.
func (e *Error) Error() string {
	s := "amojwt: " + string(e.Reason()) + ": " + e.Detail()
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the underlying failure of a store (ReasonUnavailable), or
// nil.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is the sentinel of e's Reason.
func (e *Error) Is(target error) bool { return target == failures[e.f].sentinel }
