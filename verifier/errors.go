package verifier

import (
	"errors"
	"net/http"
)

// Reason is the machine-readable code of the rule a request failed: the
// "reason code" column of SPEC §3 (and §2, §5, §7). Reasons are stable: they
// appear in metrics, logs and conformance vectors.
type Reason string

// The reasons, in SPEC order. The AMO detail text each one answers with is in
// the Detail* constants.
const (
	ReasonNotAuthenticated Reason = "not_authenticated" // SPEC §2.1: no JWT credentials on a protected endpoint
	ReasonHeaderMalformed  Reason = "header_malformed"  // SPEC §2.3-2.5: "JWT" alone, spaces, several headers
	ReasonMalformed        Reason = "malformed"         // SPEC §3 row 1, §6
	ReasonIssuerMissing    Reason = "issuer_missing"    // SPEC §3 row 2
	ReasonIssuerUnknown    Reason = "issuer_unknown"    // SPEC §3 row 3
	ReasonAlgorithm        Reason = "algorithm"         // SPEC §3 row 4, §6 (crit, b64)
	ReasonSignature        Reason = "signature"         // SPEC §3 row 5
	ReasonClaimMissing     Reason = "claim_missing"     // SPEC §3 row 6
	ReasonClaimType        Reason = "claim_type"        // SPEC §3 rows 7, 9, 10; §4
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

// Sentinel errors, one per Reason. Every *Error unwraps to the sentinel of
// its Reason, so callers branch with errors.Is(err, verifier.ErrExpired)
// without reading texts.
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

var sentinels = map[Reason]error{
	ReasonNotAuthenticated: ErrNotAuthenticated,
	ReasonHeaderMalformed:  ErrHeaderMalformed,
	ReasonMalformed:        ErrMalformed,
	ReasonIssuerMissing:    ErrIssuerMissing,
	ReasonIssuerUnknown:    ErrIssuerUnknown,
	ReasonAlgorithm:        ErrAlgorithm,
	ReasonSignature:        ErrSignature,
	ReasonClaimMissing:     ErrClaimMissing,
	ReasonClaimType:        ErrClaimType,
	ReasonIssuedInFuture:   ErrIssuedInFuture,
	ReasonExpired:          ErrExpired,
	ReasonLifetimeTooLong:  ErrLifetimeTooLong,
	ReasonRefreshable:      ErrRefreshable,
	ReasonNotYetValid:      ErrNotYetValid,
	ReasonNonceMissing:     ErrNonceMissing,
	ReasonNonceInvalid:     ErrNonceInvalid,
	ReasonUserDisabled:     ErrUserDisabled,
	ReasonAgreementMissing: ErrAgreementMissing,
	ReasonReplayed:         ErrReplayed,
	ReasonNonceStoreReset:  ErrNonceStoreReset,
	ReasonUnavailable:      ErrUnavailable,
}

// Error is the error Verify returns for every refused token. Reason says
// which rule failed, Detail is the text addons.mozilla.org answers with (the
// HTTP layer sends it as {"detail": Detail}), and Status the HTTP status. It
// never contains the token, its signature or a secret.
//
// errors.Is(err, sentinel) matches the sentinel of Reason (ErrExpired, ...);
// for ReasonUnavailable it also matches the store's error chain (for example
// noncestore.ErrUnavailable), kept in Cause.
//
// Verify returns shared *Error values for the failures that carry no
// cause, so that refusing a token allocates nothing: treat them as
// read-only.
type Error struct {
	Reason Reason
	Detail string
	// Cause is the underlying failure of a store (ReasonUnavailable), or nil.
	Cause error
}

// NewError returns an *Error for reason with the given AMO detail text. It is
// for layers that decide a rule of their own, such as the Authorization
// header parser of SPEC §2.
func NewError(reason Reason, detail string) *Error {
	return &Error{Reason: reason, Detail: detail}
}

// Error returns "amojwt: <reason>: <detail>", plus the cause if any.
func (e *Error) Error() string {
	s := "amojwt: " + string(e.Reason) + ": " + e.Detail
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel of e.Reason and, when set, e.Cause.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if s, ok := sentinels[e.Reason]; ok {
		errs = append(errs, s)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Status is the HTTP status that answers e: 503 for ReasonUnavailable (SPEC
// §7), 401 for everything else (SPEC §3).
func (e *Error) Status() int {
	if e.Reason == ReasonUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Package-level values for the failures that carry no cause, so refusing a
// token allocates nothing.
var (
	errMalformed        = &Error{Reason: ReasonMalformed, Detail: DetailDecoding}
	errIssuerMissing    = &Error{Reason: ReasonIssuerMissing, Detail: DetailIssuerMissing}
	errIssuerUnknown    = &Error{Reason: ReasonIssuerUnknown, Detail: DetailIssuerUnknown}
	errAlgorithm        = &Error{Reason: ReasonAlgorithm, Detail: DetailInvalidToken}
	errSignature        = &Error{Reason: ReasonSignature, Detail: DetailDecoding}
	errExpMissing       = &Error{Reason: ReasonClaimMissing, Detail: DetailExpMissing}
	errIatMissing       = &Error{Reason: ReasonClaimMissing, Detail: DetailIatMissing}
	errWrongType        = &Error{Reason: ReasonClaimType, Detail: DetailWrongType}
	errExpNotInteger    = &Error{Reason: ReasonClaimType, Detail: DetailDecoding}
	errIssuedInFuture   = &Error{Reason: ReasonIssuedInFuture, Detail: DetailIssuedInFuture}
	errExpired          = &Error{Reason: ReasonExpired, Detail: DetailExpired}
	errLifetimeTooLong  = &Error{Reason: ReasonLifetimeTooLong, Detail: DetailLifetimeTooLong}
	errRefreshable      = &Error{Reason: ReasonRefreshable, Detail: DetailRefreshable}
	errNotYetValid      = &Error{Reason: ReasonNotYetValid, Detail: DetailNotYetValid}
	errNonceMissing     = &Error{Reason: ReasonNonceMissing, Detail: DetailNonceMissing}
	errNonceInvalid     = &Error{Reason: ReasonNonceInvalid, Detail: DetailNonceInvalid}
	errUserDisabled     = &Error{Reason: ReasonUserDisabled, Detail: DetailUserDisabled}
	errAgreementMissing = &Error{Reason: ReasonAgreementMissing, Detail: DetailAgreementMissing}
	errReplayed         = &Error{Reason: ReasonReplayed, Detail: DetailReplayed}
	errNonceStoreReset  = &Error{Reason: ReasonNonceStoreReset, Detail: DetailNonceStoreReset}
)

func unavailable(cause error) *Error {
	return &Error{Reason: ReasonUnavailable, Detail: DetailUnavailable, Cause: cause}
}
