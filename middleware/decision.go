package middleware

import (
	"time"

	"github.com/amojwt/amojwt/verifier"
)

// Outcome is what the middleware did with a request.
type Outcome uint8

const (
	// Accepted: the token was accepted and the next handler runs with its
	// principal.
	Accepted Outcome = iota + 1
	// Anonymous: no JWT credentials and WithOptional; the next handler
	// runs without a principal.
	Anonymous
	// Refused: the request was answered with Decision.Err, a 401 or a 503.
	Refused
)

// String returns "accepted", "anonymous" or "refused".
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Anonymous:
		return "anonymous"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Decision is what the observers of WithObserver see of one request. It
// holds no token bytes, signature or secret.
type Decision struct {
	// Outcome is what was done with the request.
	Outcome Outcome
	// Err is the refusal the request is answered with (Outcome Refused):
	// one of the Authorization header's (verifier.NotAuthenticated,
	// verifier.HeaderSpaces, ...; SPEC §2, §6) or the verifier's. Its
	// Status is 401, or 503 for a store failure (SPEC §7). nil otherwise.
	Err *verifier.Error
	// Verifier is the verifier's record of its check of the token: the
	// issuer once known, whether the token had a jti, the nonce store's
	// call and whether the jti was reused (verifier.ReplayReport). Zero
	// when no token reached the verifier: anonymous requests and refusals
	// of the header.
	Verifier verifier.Decision
	// Principal is the accepted caller, nil unless Outcome is Accepted.
	Principal *verifier.Principal
	// Latency is the time the decision took, from reading the header to
	// the verdict.
	Latency time.Duration
}
