package verifier

import (
	"fmt"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// Profile is a replay policy (SPEC §5).
type Profile int

const (
	// ProfileAMO, the default, accepts what addons.mozilla.org accepts: jti
	// is optional (web-ext sign and sign-addon send none), and a token that
	// carries a jti is single-use.
	ProfileAMO Profile = iota
	// ProfileStrict requires a jti (SPEC §3 row 13), so every accepted token
	// is single-use: for deployments whose clients follow the AMO docs.
	ProfileStrict
)

// String returns "amo" or "strict".
func (p Profile) String() string {
	switch p {
	case ProfileAMO:
		return "amo"
	case ProfileStrict:
		return "strict"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// ParseProfile returns the Profile named "amo" or "strict", or an error.
func ParseProfile(name string) (Profile, error) {
	switch name {
	case "amo":
		return ProfileAMO, nil
	case "strict":
		return ProfileStrict, nil
	}
	return 0, fmt.Errorf("verifier: unknown profile %q (want amo or strict)", name)
}

// Defaults of SPEC §3.
const (
	// DefaultLeeway is the clock-skew allowance in both directions (AMO's
	// JWT_LEEWAY, 5 s).
	DefaultLeeway = 5 * time.Second
	// DefaultMaxLifetime is the largest exp - iat accepted (AMO's
	// MAX_APIKEY_JWT_AUTH_TOKEN_LIFETIME, 300 s).
	DefaultMaxLifetime = 300 * time.Second
	// MaxTokenBytes is the largest token (and Authorization header value)
	// looked at; anything longer is refused before any decoding (SPEC §6).
	MaxTokenBytes = 8 << 10
	// MaxNonceBytes is the longest jti accepted (SPEC §3 row 13).
	MaxNonceBytes = 256
)

// Option configures a Verifier. Options are applied in order by New, which
// rejects invalid values.
type Option func(*config) error

type config struct {
	store       noncestore.Store
	profile     Profile
	leeway      time.Duration
	maxLifetime time.Duration
	allowReuse  bool
	now         func() time.Time
	observer    func(Decision)
}

// WithNonceStore sets where jti values are remembered (SPEC §5). The default
// is a noncestore.NewMemory store with its defaults. A nil store is an error.
func WithNonceStore(s noncestore.Store) Option {
	return func(c *config) error {
		if s == nil {
			return fmt.Errorf("verifier: nil nonce store")
		}
		c.store = s
		return nil
	}
}

// WithProfile sets the replay policy (SPEC §5); the default is ProfileAMO.
func WithProfile(p Profile) Option {
	return func(c *config) error {
		if p != ProfileAMO && p != ProfileStrict {
			return fmt.Errorf("verifier: unknown profile %d", int(p))
		}
		c.profile = p
		return nil
	}
}

// WithLeeway sets the clock-skew allowance applied to iat, exp and nbf in
// both directions (SPEC §3 rows 8, 9, 12); the default is 5 s. Negative
// values are an error; values are used to the nanosecond.
func WithLeeway(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("verifier: negative leeway %v", d)
		}
		c.leeway = d
		return nil
	}
}

// WithMaxLifetime sets the largest accepted exp - iat (SPEC §3 row 10); the
// default is 300 s. Zero or negative values are an error.
func WithMaxLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("verifier: max lifetime must be positive, got %v", d)
		}
		c.maxLifetime = d
		return nil
	}
}

// WithAllowReuse turns replay rejection off in either profile: a token may
// be reused until it expires, as addons.mozilla.org allows since late 2025
// (SPEC §5). The nonce store is never called. In ProfileStrict a jti is still
// required.
func WithAllowReuse() Option {
	return func(c *config) error {
		c.allowReuse = true
		return nil
	}
}

// WithClock sets the clock the time checks read (SPEC §3 rows 8-12); the
// default is time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("verifier: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithObserver sets a function called once per Verify with its Decision, for
// metrics and logs. It runs on the request path: it must be fast and safe
// for concurrent use.
func WithObserver(observe func(Decision)) Option {
	return func(c *config) error {
		c.observer = observe
		return nil
	}
}

// Decision describes the outcome of one Verify, for observers. It holds no
// token bytes, signature or secret.
type Decision struct {
	// Issuer is the key's issuer once the key was found, else "".
	Issuer string
	// Reason is "" for an accepted token, else the rule that failed.
	Reason Reason
	// HasNonce reports whether the token carried a jti claim.
	HasNonce bool
	// StoreCalled reports whether the nonce store was asked, and
	// StoreLatency how long that took.
	StoreCalled  bool
	StoreLatency time.Duration
	// Err is the error returned to the caller, nil when accepted.
	Err error
}

// Accepted reports whether the token was accepted.
func (d Decision) Accepted() bool { return d.Reason == "" }
