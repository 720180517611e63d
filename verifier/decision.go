package verifier

import "time"

// Decision records what one Check did, for callers that log or count
// decisions (package middleware hands it to its observers). It is the same
// whatever the caller does with it, and holds no token bytes, signature or
// secret.
type Decision struct {
	// Issuer is the key's issuer once the key was found, else "": an
	// unknown iss is the client's text, not a key.
	Issuer string
	// HasNonce reports whether the token carried a jti claim.
	HasNonce bool
	// StoreCalled reports whether the nonce store was asked to claim the
	// jti, StoreLatency how long that took, and StoreErr how it failed
	// (nil when it answered). Under ReplayRefuse a StoreErr refuses the
	// token with ReasonUnavailable; under ReplayReport the token is
	// accepted all the same.
	StoreCalled  bool
	StoreLatency time.Duration
	StoreErr     error
	// Reused reports, under ReplayReport, that the token was accepted
	// although its jti was claimed before (or the reset guard could not
	// vouch for it, SPEC §5); Principal.Reused says the same.
	Reused bool
	// Err is the refusal returned to the caller, nil when accepted.
	Err *Error
}

// Accepted reports whether the token was accepted.
func (d Decision) Accepted() bool { return d.Err == nil }

// Reason is the code of the rule that refused the token, "" when it was
// accepted.
func (d Decision) Reason() Reason {
	if d.Err == nil {
		return ""
	}
	return d.Err.Reason()
}
