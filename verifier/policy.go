package verifier

import (
	"fmt"
	"strconv"
)

// Profile says whether a token must carry a jti (SPEC §5). Its text form,
// for flags and configuration files, is "amo" or "strict".
type Profile uint8

const (
	// ProfileAMO, the default, accepts what addons.mozilla.org accepts: jti
	// is optional (web-ext sign and sign-addon send none).
	ProfileAMO Profile = iota
	// ProfileStrict requires a jti (SPEC §3 row 13), so that every accepted
	// token can be checked for replay: for deployments whose clients follow
	// the AMO docs.
	ProfileStrict
)

// String returns "amo" or "strict", or Profile(n) for an unknown value.
func (p Profile) String() string {
	switch p {
	case ProfileAMO:
		return "amo"
	case ProfileStrict:
		return "strict"
	}
	return "Profile(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText returns "amo" or "strict"; an error for an unknown value.
func (p Profile) MarshalText() ([]byte, error) {
	if p > ProfileStrict {
		return nil, fmt.Errorf("verifier: unknown profile %d", p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText sets p from "amo" or "strict"; any other text is an error.
func (p *Profile) UnmarshalText(text []byte) error {
	switch string(text) {
	case "amo":
		*p = ProfileAMO
	case "strict":
		*p = ProfileStrict
	default:
		return fmt.Errorf("verifier: unknown profile %q (want amo or strict)", text)
	}
	return nil
}

// ReplayPolicy says what a Verifier does with the jti of a token (SPEC §5).
// Its text form is "refuse", "report" or "allow".
type ReplayPolicy uint8

const (
	// ReplayRefuse, the default, makes a jti single-use: the nonce store
	// claims it, a reused jti is refused with ReasonReplayed, a token the
	// reset guard cannot vouch for with ReasonNonceStoreReset, and a store
	// failure answers ReasonUnavailable (SPEC §5, §7).
	ReplayRefuse ReplayPolicy = iota
	// ReplayReport accepts what addons.mozilla.org accepts, a token reused
	// until it expires (docs/AMO.md §4.1, §10), and says so: the nonce store
	// claims the jti as with ReplayRefuse, but a reused jti, or one the
	// reset guard cannot vouch for, is accepted with Decision.Reused and
	// Principal.Reused set. A store failure accepts too, since AMO never
	// checks, and Decision.StoreErr records it.
	ReplayReport
	// ReplayAllow accepts a token again until it expires, as
	// addons.mozilla.org does (its docs say so since December 2025;
	// docs/AMO.md §10), without asking the nonce store at all.
	ReplayAllow
)

// String returns "refuse", "report" or "allow", or ReplayPolicy(n) for an
// unknown value.
func (p ReplayPolicy) String() string {
	switch p {
	case ReplayRefuse:
		return "refuse"
	case ReplayReport:
		return "report"
	case ReplayAllow:
		return "allow"
	}
	return "ReplayPolicy(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText returns "refuse", "report" or "allow"; an error for an
// unknown value.
func (p ReplayPolicy) MarshalText() ([]byte, error) {
	if p > ReplayAllow {
		return nil, fmt.Errorf("verifier: unknown replay policy %d", p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText sets p from "refuse", "report" or "allow"; any other text is
// an error.
func (p *ReplayPolicy) UnmarshalText(text []byte) error {
	switch string(text) {
	case "refuse":
		*p = ReplayRefuse
	case "report":
		*p = ReplayReport
	case "allow":
		*p = ReplayAllow
	default:
		return fmt.Errorf("verifier: unknown replay policy %q (want refuse, report or allow)", text)
	}
	return nil
}
