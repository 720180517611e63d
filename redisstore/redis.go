package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amojwt/amojwt/noncestore"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every key the Redis store writes, unless
// WithKeyPrefix chooses another.
const DefaultKeyPrefix = "amojwt:nonce:"

// DefaultTimeout bounds one Redis store call (Claim or Ping) unless
// WithTimeout chooses another (SPEC §7: default 250 ms).
const DefaultTimeout = 250 * time.Millisecond

// redisMinHold is the shortest time a claim is held, even when until is
// already past (or past by the Redis server's clock): long enough that
// concurrent claims of one pair still see each other.
const redisMinHold = time.Second

// Store is a noncestore.Store kept in Redis, shared by every process that
// uses the same Redis standalone server, Sentinel group or Cluster (SPEC §5).
// Create it with New. It is safe for concurrent use and holds no goroutine
// while idle, so it needs no Close; close the client when done with it.
//
// Each claim is one SET of a fixed-length key (prefix + 32 hex digits of
// SHA-256 over the length-prefixed issuer and nonce) with NX and an absolute
// expiry (PXAT), so Redis forgets the pair by itself once the token has
// expired; with the reset guard on, a GET of the marker key rides in the
// same round trip. A claim is sent at once while fewer than two round trips
// are in flight; claims that arrive while two are, are sent together in the
// next pipeline.
//
// Redis 7.0 or later is required (the marker is created with SET NX GET).
// Configure Redis with maxmemory-policy noeviction: an evicted nonce key is
// a replay let through, while a full Redis refuses writes and the store
// fails closed.
type Store struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // client, when it is a Cluster client

	config
	marker string // the reset guard's epoch key: prefix + "epoch"

	valuePrefix string // random per store: claim values never repeat
	seq         atomic.Uint64

	async    bool // send pipelines from a goroutine: the client may ignore deadlines
	deadline atomic.Pointer[redisDeadline]
	slots    [redisRounds]redisSlot

	mu      sync.Mutex
	free    []*redisSlot  // the slots no round holds
	pending []*redisClaim // claims for the next pipeline (only while no slot is free)
	spare   []*redisClaim // an empty slice for pending to reuse
}

var _ noncestore.Store = (*Store)(nil)

// Option configures New. Options only record settings; New checks them
// together and reports the first invalid one.
type Option func(*config)

// config is what the options set.
type config struct {
	prefix       string
	timeout      time.Duration
	guard        bool
	waitReplicas int
	waitTimeout  time.Duration
}

// WithKeyPrefix sets the prefix of every key the store writes (default
// DefaultKeyPrefix): nonce keys are prefix + 32 hex digits, and the
// reset guard's marker is prefix + "epoch". Give each deployment that must
// not see the other's nonces its own prefix. The prefix must not be empty.
//
// The prefix is the operator's; the client's input never adds braces. A
// prefix that contains a Redis Cluster hash tag ("{...}") sends every key
// to one hash slot, so one Cluster node holds them all.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithTimeout bounds every Claim and Ping (default DefaultTimeout,
// SPEC §7). A call that takes longer returns an error wrapping
// ErrUnavailable and context.DeadlineExceeded; a claim written just as its
// time ran out stays written (a retry of the same token is then replayed).
// An earlier deadline on the caller's context wins. Must be positive.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithResetGuard turns the reset guard (SPEC §5) on or off; it is on by
// default for this store.
//
// On, the epoch is the Unix time in milliseconds stored in the marker key
// (prefix + "epoch"), created by the first claim that finds it missing.
// Every claim reads the marker in the same round trip, so a Redis that lost
// its data (FLUSHALL, restart without persistence, failover to an empty
// node) is noticed by the next claim, which starts and returns a new epoch.
// Restarting amojwt does not move the epoch.
//
// On a Cluster the marker lives on one node: a shard that loses its data
// alone (a node restarted empty that keeps its slots) is not noticed. Data
// lost to asynchronous replication at a failover is not noticed either:
// WithWait covers that.
//
// Off, Claim returns the zero time and sends only the nonce's SET.
func WithResetGuard(on bool) Option {
	return func(c *config) { c.guard = on }
}

// WithWait makes every claim wait until at least replicas replicas
// have acknowledged it (Redis WAIT numreplicas timeout), for deployments
// whose nonces must survive a failover. Off by default.
//
// A WAIT that reaches fewer replicas within timeout fails closed: the claim
// returns an error wrapping ErrUnavailable even though the primary recorded
// it (so a retry of that token is then replayed). timeout must be at least
// a millisecond and shorter than the store's timeout (WithTimeout),
// and replicas at least 1. On a Cluster, claims are sent to each key's
// master directly so the WAIT runs where the write did; during a slot
// migration such claims fail closed rather than follow the redirect.
func WithWait(replicas int, timeout time.Duration) Option {
	return func(c *config) { c.waitReplicas, c.waitTimeout = replicas, timeout }
}

// New returns a Store kept in Redis through client: a *redis.Client
// (standalone, or Sentinel through redis.NewFailoverClient), a
// *redis.ClusterClient, or whatever redis.NewUniversalClient returns. It
// does no I/O; Ping checks the connection.
//
// Give the client ContextTimeoutEnabled: true (NewClient does): the
// store answers within its timeout either way, but with it a timed-out call
// also frees its connection at once instead of after the client's
// ReadTimeout. Leave the client's retries on: claims are written so that a
// retried round trip whose reply was lost is still the caller's success.
//
// It returns an error for a nil client or invalid options.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	c := config{prefix: DefaultKeyPrefix, timeout: DefaultTimeout, guard: true}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case client == nil:
		return nil, errors.New("redisstore: New: nil client")
	case c.prefix == "":
		return nil, errors.New("redisstore: New: empty key prefix")
	case c.timeout <= 0:
		return nil, fmt.Errorf("redisstore: New: timeout %v is not positive", c.timeout)
	case c.waitReplicas < 0,
		c.waitReplicas > 0 && (c.waitTimeout < time.Millisecond || c.waitTimeout >= c.timeout):
		return nil, fmt.Errorf("redisstore: New: WAIT %d replicas within %v: want replicas >= 1 and 1ms <= timeout < %v",
			c.waitReplicas, c.waitTimeout, c.timeout)
	}
	r := &Store{client: client, config: c, marker: c.prefix + "epoch"}
	r.cluster, _ = client.(*redis.ClusterClient)
	switch cl := client.(type) {
	case *redis.Client:
		r.async = !cl.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		r.async = !cl.Options().ContextTimeoutEnabled
	case *redis.Ring:
		r.async = !cl.Options().ContextTimeoutEnabled
	default:
		r.async = true
	}
	for i := range r.slots {
		s := &r.slots[i]
		s.pipe = client.Pipeline()
		s.loneBatch[0] = &s.lone
		r.free = append(r.free, s)
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	r.valuePrefix = hex.EncodeToString(id[:]) + ":"
	return r, nil
}

// Claim records (issuer, nonce) until the wall-clock time until (SPEC §3
// row 15, §5). It returns nil if the pair was free, ErrReplayed if it was
// held, or an error wrapping ErrUnavailable (and the cause: a go-redis
// error, context.DeadlineExceeded, ...) when Redis did not answer within the
// store's timeout or answered with an error (SPEC §7).
//
// It costs one round trip, shared with the claims sent alongside; a second
// one only when the pair was held (to tell a replay from a retried write of
// this same claim) or the reset guard's marker was missing. A cancelled ctx
// ends the wait at once, except while this call itself is sending a
// pipeline, which ends within the timeout.
//
// The pair is held until until by the Redis server's clock, and for at
// least a second in any case. epoch is the reset guard's epoch (see
// WithResetGuard), or the zero time when the guard is off.
func (r *Store) Claim(ctx context.Context, issuer, nonce string, until time.Time) (epoch time.Time, err error) {
	now := time.Now()
	if err := ctx.Err(); err != nil {
		return time.Time{}, redisUnavailable(context.Cause(ctx))
	}
	deadline := now.Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if minUntil := now.Add(redisMinHold); until.Before(minUntil) {
		until = minUntil
	}
	var v [32]byte
	key, value := r.keyValue(issuer, nonce, strconv.AppendUint(append(v[:0], r.valuePrefix...), r.seq.Add(1), 36))
	return r.claim(ctx, key, value, until, deadline)
}

// Ping reports whether Redis answers within the store's timeout: nil, or
// an error wrapping ErrUnavailable. With the reset guard on, it reads the
// marker and returns the epoch (SPEC §5), creating the marker as a claim
// would when it is missing: a server that pings the store when it starts
// (and in readiness probes) establishes the epoch of a fresh or flushed
// Redis then, not at the first token. With the guard off it sends PING and
// returns the zero time.
func (r *Store) Ping(ctx context.Context) (epoch time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// In its own goroutine: a client without ContextTimeoutEnabled would
	// otherwise hold us until its own ReadTimeout.
	type answer struct {
		epoch time.Time
		err   error
	}
	done := make(chan answer, 1)
	go func() {
		epoch, err := r.ping(ctx)
		done <- answer{epoch, err}
	}()
	select {
	case a := <-done:
		return a.epoch, a.err
	case <-ctx.Done():
		return time.Time{}, redisUnavailable(context.Cause(ctx))
	}
}

// ping is Ping's round trips, without its own bound.
func (r *Store) ping(ctx context.Context) (time.Time, error) {
	if !r.guard {
		if err := r.client.Ping(ctx).Err(); err != nil {
			return time.Time{}, redisUnavailable(err)
		}
		return time.Time{}, nil
	}
	round := redisRound{marker: r.client.Get(ctx, r.marker)}
	r.check(ctx, nil, &round)
	return r.epoch(&round)
}

// keyValue derives the Redis key of a pair: the prefix, then the first 128
// bits of SHA-256 over len(issuer), issuer, len(nonce), nonce (lengths as
// 64-bit big-endian), in hex. The lengths keep ("a:b", "c") and ("a", "b:c")
// apart; the hash gives every key the same length and hides the nonce, and
// hex has no braces, so a client cannot pick a Cluster slot (SPEC §5).
// It returns the key and value as strings that share one allocation.
func (r *Store) keyValue(issuer, nonce string, value []byte) (string, string) {
	var stack [320]byte // room for a 256-byte jti (SPEC §3 row 13) and an issuer
	b := binary.BigEndian.AppendUint64(stack[:0], uint64(len(issuer)))
	b = append(b, issuer...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(nonce)))
	b = append(b, nonce...)
	sum := sha256.Sum256(b)
	var hx [2 * redisKeyHashBytes]byte
	hex.Encode(hx[:], sum[:redisKeyHashBytes])
	var k strings.Builder
	k.Grow(len(r.prefix) + len(hx) + len(value))
	k.WriteString(r.prefix)
	k.Write(hx[:])
	k.Write(value)
	kv := k.String()
	n := len(r.prefix) + len(hx)
	return kv[:n], kv[n:]
}

// redisKeyHashBytes is how much of the SHA-256 a key keeps: 128 bits.
const redisKeyHashBytes = 16

// redisUnavailable wraps a Redis, network or deadline error so that
// errors.Is finds both ErrUnavailable and the cause. A network timeout also
// matches context.DeadlineExceeded, as the store's own timeout does.
func redisUnavailable(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: redis: %w: %w", noncestore.ErrUnavailable, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("%w: redis: %w", noncestore.ErrUnavailable, err)
}
