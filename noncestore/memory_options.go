package noncestore

import "time"

// MemoryOption configures a Memory store. Options only record settings;
// NewMemory checks them together and reports the first invalid one.
type MemoryOption func(*memConfig)

type memConfig struct {
	capacity   int
	clock      func() time.Time
	resetGuard bool
	stateFile  string
}

// WithCapacity sets the most live nonces (claimed and not yet expired) the
// store holds; the default is DefaultMemoryCapacity (1,000,000). n must be
// positive, or NewMemory returns an error.
//
// The bound fails closed: a claim of a new nonce while n are live returns an
// error wrapping ErrUnavailable (an HTTP 503, SPEC §7), and a live nonce is
// never forgotten to make room. Replays of held nonces are still answered
// with ErrReplayed. Room comes back as nonces expire: a claim that finds no
// room first reclaims the expired nonces of as many shards as it takes.
//
// Each nonce takes one 20-byte slot (a 128-bit hash and a 32-bit expiry) in
// open-addressing tables kept between 3/8 and 3/4 full, so n live nonces
// take 27 to 54 bytes each: about 40 MB at 1,000,000. Tables grow with use
// and are not shrunk, so the memory follows the peak, never above that bound
// (except that a shard's first table, taken at its first claim, has room
// for 48 nonces: 1.25 KB). The shards add 64 bytes per 4096 of capacity (at
// least 4 KB) up front.
func WithCapacity(n int) MemoryOption {
	return func(c *memConfig) { c.capacity = n }
}

// WithClock sets the wall clock the store reads to decide which nonces have
// expired and, with the reset guard on, its epoch; the default is time.Now.
// Tests use it to move time without sleeping. A nil clock is an error.
func WithClock(now func() time.Time) MemoryOption {
	return func(c *memConfig) { c.clock = now }
}

// WithResetGuard turns the reset guard of SPEC §5 on or off; it is off by
// default for the memory store. With it on, Claim returns the store's
// creation time as the epoch, so a jti-bearing token that could have been
// used before the process started (and so before this store remembered
// anything) is refused. With it off, Claim returns the zero time.Time. With
// a state file (WithStateFile), the epoch comes from the file, or is the
// creation time when there is none, whatever this option says.
func WithResetGuard(on bool) MemoryOption {
	return func(c *memConfig) { c.resetGuard = on }
}
