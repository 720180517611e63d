package verifier

import (
	"errors"
	"fmt"
	"time"

	"github.com/amojwt/amojwt/noncestore"
)

// Defaults and limits of SPEC §3 and §6.
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
	// MaxMembers is the largest number of members read in the protected
	// header or in the claims; a token with more is malformed (SPEC §6).
	// AMO clients send at most 2 header members and 4 claims.
	MaxMembers = 16
)

// Option configures a Verifier. Options only record settings; New checks
// them all at once and returns an error for an invalid one.
type Option func(*config)

type config struct {
	store       noncestore.Store
	storeSet    bool
	profile     Profile
	replay      ReplayPolicy
	leeway      time.Duration
	maxLifetime time.Duration
	now         func() time.Time
}

// check reports the first invalid setting of c.
func (c *config) check() error {
	switch {
	case c.storeSet && c.store == nil:
		return errors.New("verifier: nil nonce store")
	case c.profile > ProfileStrict:
		return fmt.Errorf("verifier: unknown profile %d", c.profile)
	case c.replay > ReplayAllow:
		return fmt.Errorf("verifier: unknown replay policy %d", c.replay)
	case c.leeway < 0:
		return fmt.Errorf("verifier: negative leeway %v", c.leeway)
	case c.maxLifetime <= 0:
		return fmt.Errorf("verifier: max lifetime must be positive, got %v", c.maxLifetime)
	case c.now == nil:
		return errors.New("verifier: nil clock")
	}
	return nil
}

// WithNonceStore sets where jti values are claimed (SPEC §5). The default is
// a noncestore.NewMemory store with its defaults and the verifier's clock;
// a store given here must read the same clock, since it holds each nonce
// until exp + leeway by its own. A nil store is an error.
func WithNonceStore(s noncestore.Store) Option {
	return func(c *config) { c.store, c.storeSet = s, true }
}

// WithProfile sets whether a jti is required (SPEC §5); the default is
// ProfileAMO.
func WithProfile(p Profile) Option {
	return func(c *config) { c.profile = p }
}

// WithReplay sets what a reused jti gets (SPEC §5); the default is
// ReplayRefuse. With ReplayAllow the nonce store is never called, and no
// default store is made.
func WithReplay(p ReplayPolicy) Option {
	return func(c *config) { c.replay = p }
}

// WithLeeway sets the clock-skew allowance applied to iat, exp and nbf in
// both directions (SPEC §3 rows 8, 9, 12); the default is 5 s. Negative
// values are an error; values are used to the nanosecond.
func WithLeeway(d time.Duration) Option {
	return func(c *config) { c.leeway = d }
}

// WithMaxLifetime sets the largest accepted exp - iat (SPEC §3 row 10); the
// default is 300 s. Zero or negative values are an error.
func WithMaxLifetime(d time.Duration) Option {
	return func(c *config) { c.maxLifetime = d }
}

// WithClock sets the clock the time checks read (SPEC §3 rows 8-12); the
// default is time.Now. A nil clock is an error. For tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}
