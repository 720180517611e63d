package noncestore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dchest/siphash"
)

// DefaultMemoryCapacity is the number of live nonces a Memory store holds
// unless WithCapacity says otherwise. At about 40 bytes a nonce (see
// WithCapacity) it bounds the store to some 40 MB, worst case 54 MB.
const DefaultMemoryCapacity = 1_000_000

const (
	// A store has a power of two of shards, each with its own lock and
	// table, picked by the top bits of the keyed hash: concurrent claims
	// rarely meet on a lock. There are enough for a full store to hold at
	// most memShardLoad nonces a shard, so that sweeping or growing a shard
	// holds its lock for little time (growing a full one, the longest, 0.1
	// to 0.2 ms: BenchmarkMemoryShardHold); at least 64, at most 65536 (4 MB of
	// shards). No more, because every claim reads its shard: with 1024
	// nonces a shard, a store of 10 million had too many shards to stay in
	// cache, and a claim missed on its shard as well as on its table. Even
	// at 4096, a store of 20 million (8192 shards, 512 KB) misses on some:
	// a profile of 10M claims put 9% of the samples on the shard's lock.
	memShardLoad    = 4096
	memMinShardBits = 6
	memMaxShardBits = 16
	// memMinSlots is the table size of a shard's first claim: 1.25 KB, room
	// for 48 nonces. Claims spread evenly over the shards (256 in a default
	// store), so a store that holds some thousands of nonces has dozens in
	// every shard, and a smaller first table would be regrown in each.
	memMinSlots = 64
	// Every memStepEvery-th claim in a shard runs the shard's cursor over
	// the next memStepSlots slots (see step), reclaiming expired entries,
	// so that reclaiming never needs a stop-the-world sweep: 4 slots a
	// claim, in one sequential run, because in a large store the slots at
	// the cursor are a cache miss of their own, which a run pays once for
	// 64 claims.
	memStepEvery = 64
	memStepSlots = 256
	// memQuotaBatch is the most capacity a shard takes from the store's
	// pool at a time, and about how much it keeps spare, so that the pool
	// (one atomic counter) is touched once per tens of claims, not each.
	memQuotaBatch = 64
	// memRetries bounds the reclaim-and-retry rounds of a claim that found
	// the store full.
	memRetries = 3
	// memKeyBuf holds the hashed message of a pair of a long issuer and a
	// jti of the longest kind verifiers accept (SPEC §3 row 13: 256 bytes).
	memKeyBuf = 512
)

// errMemNoRoom tells Claim that the store is at capacity; it never leaves
// this file (callers get Memory.errFull).
var errMemNoRoom = errors.New("noncestore: memory store has no room")

// errMemClosed answers every call on a closed Memory store.
var errMemClosed = fmt.Errorf("%w: memory store closed", ErrUnavailable)

// Memory is a Store that keeps nonces in this process (SPEC §5): the default
// store, for one process. It is safe for concurrent use. It needs no Close,
// unless it keeps its nonces across restarts in a state file
// (WithStateFile): then Close saves them.
//
// It keeps no strings: an (issuer, nonce) pair is held as its SipHash-2-4
// 128-bit hash (github.com/dchest/siphash), a pseudorandom function keyed
// by 128 random bits per store, with the issuer's length hashed first so
// that pairs never collide across issuers by construction ("a:b"+"c" is not
// "a"+"b:c"). Without the key, which never leaves the process but in the
// state file (WithStateFile), clients can neither predict hash values nor
// choose where entries go, so they cannot flood one shard or one probe
// sequence (hash flooding); SipHash was designed for exactly that, and,
// unlike the runtime's hash, its key can be saved with the nonces and used
// again by the next process. Two pairs colliding by chance (odds about
// 2^-128) would make the second look replayed: a false 401, never a replay
// let through.
//
// Expiry is kept in whole seconds, rounded up: a pair is held while the
// clock reads at most until, and forgotten within a second after. The store
// is split into shards of at most about 4096 nonces (256 shards at the
// default capacity), each with its own lock. Expired entries are reclaimed
// a few hundred slots at a time by every 64th claim of a shard, and a whole
// shard at once only when it must grow or the store is full, so no claim
// waits for a sweep of the store: a shard's lock is held for at most 0.1 to
// 0.2 ms, the time to grow a full shard.
type Memory struct {
	shards    []memShard
	shift     uint   // a key's shard is its first word >> shift
	k0, k1    uint64 // the SipHash key
	clock     func() time.Time
	base      int64 // Unix seconds, a second before creation: ticks count from it
	epoch     time.Time
	errFull   error
	stateFile string
	closed    atomic.Bool  // set by Close: claims are refused
	_         [64]byte     // keeps the fields above, read by every claim, off the line below
	pool      atomic.Int64 // capacity no shard holds as quota
	// fullUntil is the tick before which the store is known to be full of
	// live nonces (see reclaim).
	fullUntil atomic.Uint32
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store configured by opts: empty, or holding
// the nonces of its state file (WithStateFile). It returns an error, and no
// store, if an option is invalid or the state file cannot be read (see
// WithStateFile).
func NewMemory(opts ...MemoryOption) (*Memory, error) {
	c := memConfig{capacity: DefaultMemoryCapacity, clock: time.Now}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.capacity <= 0:
		return nil, fmt.Errorf("noncestore: NewMemory: capacity %d is not positive (WithCapacity)", c.capacity)
	case c.clock == nil:
		return nil, errors.New("noncestore: NewMemory: nil clock (WithClock)")
	}
	now := c.clock()
	shardBits := min(max(bits.Len(uint(c.capacity-1)/memShardLoad), memMinShardBits), memMaxShardBits)
	m := &Memory{
		shards:    make([]memShard, 1<<shardBits),
		shift:     uint(64 - shardBits),
		clock:     c.clock,
		base:      now.Unix() - 1,
		errFull:   fmt.Errorf("%w: memory store full (%d live nonces)", ErrUnavailable, c.capacity),
		stateFile: c.stateFile,
	}
	var key [16]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails
	m.k0, m.k1 = binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])
	if c.resetGuard {
		m.epoch = now.Round(0)
	}
	m.pool.Store(int64(c.capacity))
	for i := range m.shards {
		m.shards[i].minExp.Store(math.MaxUint32)
		m.shards[i].roundMin = math.MaxUint32
	}
	if c.stateFile != "" {
		if err := m.load(now, c.capacity); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Claim records (issuer, nonce) until the wall-clock time until (SPEC §5).
// It returns nil if the pair was not held, ErrReplayed if it was, and an
// error wrapping ErrUnavailable if the store is full (see WithCapacity).
// epoch is the store's creation time with the reset guard on, else the zero
// time.Time. ctx is not used: Claim works in memory and in bounded time.
// It allocates only when a shard's table grows, or for an issuer and nonce
// over 504 bytes together.
func (m *Memory) Claim(_ context.Context, issuer, nonce string, until time.Time) (epoch time.Time, err error) {
	return m.epoch, m.claimKey(m.key(issuer, nonce), m.tick(m.clock()), m.expiry(until))
}

// claimKey claims the pair whose key is k at tick now until tick exp.
func (m *Memory) claimKey(k memKey, now, exp uint32) error {
	first := k.shard(m.shift)
	s := &m.shards[first]
	err := m.claimIn(s, k, now, exp)
	// Another claim may take what reclaim frees first: retry, boundedly.
	for range memRetries {
		if err != errMemNoRoom || !m.reclaim(now, first) {
			break
		}
		err = m.claimIn(s, k, now, exp)
	}
	if err == errMemNoRoom {
		err = m.errFull
	}
	return err
}

// Ping returns nil while the store can take a new nonce, and the error
// Claim would return (wrapping ErrUnavailable) while it is full of live
// nonces, so a readiness probe reports a full store. Like such a claim, it
// first reclaims expired nonces if there is no room. epoch is Claim's: the
// store's creation time with the reset guard on, else the zero time. ctx
// is not used.
func (m *Memory) Ping(_ context.Context) (epoch time.Time, err error) {
	if m.closed.Load() {
		return m.epoch, errMemClosed
	}
	if m.pool.Load() > 0 || m.reclaim(m.tick(m.clock()), 0) {
		return m.epoch, nil
	}
	return m.epoch, m.errFull
}

// memKey is the keyed 128-bit hash of an (issuer, nonce) pair.
type memKey [16]byte

func (k *memKey) home() int { return int(binary.LittleEndian.Uint64(k[:8])) }
func (k *memKey) shard(shift uint) int {
	return int(binary.LittleEndian.Uint64(k[:8]) >> shift)
}

// key hashes the issuer's length, the issuer and the nonce: the length makes
// the message unambiguous, so distinct pairs are distinct messages.
func (m *Memory) key(issuer, nonce string) (k memKey) {
	var buf [memKeyBuf]byte // a longer message moves to the heap
	msg := binary.LittleEndian.AppendUint64(buf[:0], uint64(len(issuer)))
	msg = append(append(msg, issuer...), nonce...)
	h0, h1 := siphash.Hash128(m.k0, m.k1, msg)
	binary.LittleEndian.PutUint64(k[:8], h0)
	binary.LittleEndian.PutUint64(k[8:], h1)
	return k
}

// tick is the whole seconds from m.base to t, rounded down: 0 for a clock
// read before m.base, so that a clock set back forgets nothing, and at most
// math.MaxUint32-1, so that an expiry of math.MaxUint32 never comes.
func (m *Memory) tick(t time.Time) uint32 {
	return uint32(min(max(t.Unix()-m.base, 0), math.MaxUint32-1))
}

// expiry is the first tick at which a pair held until until may be
// forgotten: the whole second after until, at least 1 (0 marks an empty
// slot; tick 1 was over when the store was made, as m.base is a second
// before) and at most math.MaxUint32 (136 years on: held for good).
func (m *Memory) expiry(until time.Time) uint32 {
	return uint32(min(max(until.Unix()-m.base+1, 1), math.MaxUint32))
}

// claimIn runs one claim in shard s under its lock; errMemNoRoom means that
// s and the pool had no capacity left.
func (m *Memory) claimIn(s *memShard, k memKey, now, exp uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.closed.Load() {
		// Read under the lock: once Close has taken and released every
		// shard's lock, no claim changes a table.
		return errMemClosed
	}
	err := s.claim(m, k, now, exp)
	if spare := s.quota - s.used; spare > 2*memQuotaBatch {
		m.pool.Add(int64(spare - memQuotaBatch))
		s.quota -= spare - memQuotaBatch
	}
	if spare := s.quota > s.used; spare != s.spare.Load() {
		s.spare.Store(spare)
	}
	return err
}

// take moves capacity from the pool to a shard's quota, and returns how
// much it moved: memQuotaBatch while the pool is large, less as it runs
// low, so that near the capacity the last of it is not scattered as spare
// over many shards while another claim looks for room.
func (m *Memory) take() int {
	for {
		p := m.pool.Load()
		n := min(max(p/int64(len(m.shards)), 1), memQuotaBatch, p)
		if n <= 0 {
			return 0
		}
		if m.pool.CompareAndSwap(p, p-n) {
			return int(n)
		}
	}
}

// reclaim runs when a claim found no capacity. Starting at shard first, it
// returns every shard's spare quota to the pool and sweeps the shards that
// may hold expired entries, until the pool has some. It reports whether the
// pool has some: false means that every slot holds a live nonce. Each shard
// is locked for its own sweep only, and the sweeps are paid once: a swept
// shard is skipped until one of its entries expires. A store found full
// stays so until the next second (nothing expires sooner), so until then a
// claim finding no room is refused at once, without looking again.
func (m *Memory) reclaim(now uint32, first int) bool {
	if now < m.fullUntil.Load() {
		return m.pool.Load() > 0
	}
	for i := range m.shards {
		if m.pool.Load() > 0 {
			return true
		}
		s := &m.shards[(first+i)%len(m.shards)]
		if s.minExp.Load() > now && !s.spare.Load() {
			continue
		}
		s.mu.Lock()
		if s.minExp.Load() <= now {
			s.sweep(now)
		}
		m.pool.Add(int64(s.quota - s.used))
		s.quota = s.used
		s.spare.Store(false)
		s.mu.Unlock()
	}
	if m.pool.Load() > 0 {
		return true
	}
	m.fullUntil.Store(now + 1)
	return false
}

// memEntry is one slot of a shard's table: 20 bytes, no pointers.
type memEntry struct {
	key memKey
	exp uint32 // first tick at which the entry may go; 0: the slot is empty
}

// memShard is an open-addressing hash table with linear probing, kept at
// most 3/4 full. Removal never leaves tombstones: it moves the entries
// after the emptied slot back towards their home slots.
//
// It is padded to one 64-byte cache line: a store's shards are one array,
// the only memory a claim reads besides its table, so each shard takes one
// line and shares it with no other shard's lock. The padding comes first
// because Go pads a struct that ends in a zero-size field; the two
// declarations after the type fail to build unless it is exactly 64 bytes.
type memShard struct {
	_ [64 - unsafe.Sizeof(memShardState{})]byte
	memShardState
}

var (
	_ [64 - unsafe.Sizeof(memShard{})]byte
	_ [unsafe.Sizeof(memShard{}) - 64]byte
)

// memShardState is the fields of a memShard.
type memShardState struct {
	mu      sync.Mutex
	slots   []memEntry // nil until the first claim, then a power-of-two length
	used    int32      // occupied slots, expired or not
	quota   int32      // capacity taken from the pool: used <= quota
	cursor  int32      // the slot the next incremental reclaim step starts at
	pending uint8      // claims since a step was last due, up to memStepEvery
	// minExp is at most the exp of every occupied slot (math.MaxUint32 when
	// none), so a shard with minExp > now has nothing to reclaim. Storing an
	// entry lowers it; sweeps set it exactly, and each round of the cursor
	// over the table, from slot 0 to the last, raises it again to roundMin:
	// at most the exp of every entry in a slot the cursor has passed this
	// round, which is every entry when the round ends. spare is quota >
	// used. minExp and spare are written under mu and read without it by
	// Memory.reclaim.
	minExp   atomic.Uint32
	roundMin uint32
	spare    atomic.Bool
}

// claim runs a claim in s, whose lock the caller holds.
func (s *memShard) claim(m *Memory, k memKey, now, exp uint32) error {
	if s.slots == nil {
		s.slots = make([]memEntry, memMinSlots)
	}
	if s.pending++; s.pending == memStepEvery {
		s.pending = 0
		if s.minExp.Load() <= now {
			// Something may have expired: reclaim a little. Otherwise the
			// cursor waits where it is; minExp stays a lower bound.
			s.step(now)
		}
	}
	mask := len(s.slots) - 1
	reuse := -1
	i := k.home() & mask
	for ; s.slots[i].exp != 0; i = (i + 1) & mask {
		e := &s.slots[i]
		if e.key == k {
			if e.exp > now {
				return ErrReplayed
			}
			e.exp = exp // the pair's own entry, expired: taken again
			s.noteExp(i, exp)
			return nil
		}
		if reuse < 0 && e.exp <= now {
			reuse = i
		}
	}
	if reuse >= 0 {
		// An expired entry on the probe path gives its slot to k, which
		// would sit after it anyway.
		s.slots[reuse] = memEntry{key: k, exp: exp}
		s.noteExp(reuse, exp)
		return nil
	}
	if s.used == s.quota {
		if s.quota += int32(m.take()); s.used == s.quota {
			return errMemNoRoom
		}
	}
	if int(s.used+1)*4 <= len(s.slots)*3 {
		s.slots[i] = memEntry{key: k, exp: exp} // the probe ended on it
		s.used++
	} else {
		if s.minExp.Load() <= now {
			s.sweep(now)
		}
		if int(s.used+1)*4 > len(s.slots)*3 {
			s.grow(now)
		}
		i = s.put(memEntry{key: k, exp: exp})
	}
	s.noteExp(i, exp)
	return nil
}

// put stores e, known absent, in the first empty slot from its home, and
// returns that slot.
func (s *memShard) put(e memEntry) int {
	mask := len(s.slots) - 1
	i := e.key.home() & mask
	for s.slots[i].exp != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = e
	s.used++
	return i
}

// noteExp keeps the bounds minExp and roundMin after slot i took an entry
// expiring at exp. roundMin leaves out a slot the cursor has yet to reach
// this round, as the cursor will see it: so the round that removes the last
// expired entries of a shard also ends with minExp past them, not the round
// after, while a full store would sweep the shard for nothing.
func (s *memShard) noteExp(i int, exp uint32) {
	if exp < s.minExp.Load() {
		s.minExp.Store(exp)
	}
	if i < int(s.cursor) {
		s.roundMin = min(s.roundMin, exp)
	}
}

// settle empties slot i if its entry has expired, returning -1, or else
// returns the slot the entry ends in: the first empty one from its home if
// hole says a slot before i in its cluster may have been emptied, else i.
// Walking on with settle from any slot, to the end of the cluster once it
// has emptied a slot, keeps every entry reachable from its home.
func (s *memShard) settle(i int, now uint32, hole bool) int {
	e := &s.slots[i]
	if e.exp <= now {
		*e = memEntry{}
		s.used--
		return -1
	}
	if !hole {
		return i
	}
	mask := len(s.slots) - 1
	j := e.key.home() & mask
	for j != i && s.slots[j].exp != 0 {
		j = (j + 1) & mask
	}
	if j != i {
		s.slots[j] = *e
		*e = memEntry{}
	}
	return j
}

// step reclaims the expired entries in the memStepSlots slots from the
// cursor on, and on to the end of the cluster if it emptied a slot in it,
// so that the next step may start where this one stops. A table smaller
// than memStepSlots is gone over once: a second lap at the same tick finds
// nothing the first left.
func (s *memShard) step(now uint32) {
	i, hole := int(s.cursor), false
	for n, end := 0, min(memStepSlots, len(s.slots)); n < end || hole && s.slots[i].exp != 0; n++ {
		switch exp := s.slots[i].exp; {
		case exp == 0:
			hole = false
		case s.settle(i, now, hole) < 0:
			hole = true
		default:
			s.roundMin = min(s.roundMin, exp)
		}
		i = s.advance(i)
	}
	s.cursor = int32(i)
}

// advance returns the slot after i for the cursor; passing slot 0 ends a
// round of the table, whose roundMin becomes minExp.
func (s *memShard) advance(i int) int {
	i = (i + 1) & (len(s.slots) - 1)
	if i == 0 {
		s.minExp.Store(s.roundMin)
		s.roundMin = math.MaxUint32
	}
	return i
}

// sweep reclaims every expired entry of the shard and sets minExp exactly,
// and roundMin to cover the entries behind the cursor.
func (s *memShard) sweep(now uint32) {
	mask := len(s.slots) - 1
	start := 0
	for s.slots[start].exp != 0 {
		start++
	}
	least, behind := uint32(math.MaxUint32), uint32(math.MaxUint32)
	hole := false
	for n, i := 1, (start+1)&mask; n < len(s.slots); n, i = n+1, (i+1)&mask {
		exp := s.slots[i].exp
		if exp == 0 {
			hole = false
			continue
		}
		switch j := s.settle(i, now, hole); {
		case j < 0:
			hole = true
		case j < int(s.cursor):
			behind = min(behind, exp)
			fallthrough
		default:
			least = min(least, exp)
		}
	}
	s.minExp.Store(least)
	s.roundMin = behind
}

// grow moves the live entries to a table twice as large and drops the
// expired ones.
func (s *memShard) grow(now uint32) {
	old := s.slots
	s.slots = make([]memEntry, 2*len(old))
	s.used = 0
	s.cursor = 0
	least := uint32(math.MaxUint32)
	for _, e := range old {
		if e.exp > now {
			s.put(e)
			least = min(least, e.exp)
		}
	}
	s.minExp.Store(least)
	s.roundMin = math.MaxUint32 // the cursor, back at slot 0, will see every entry
}
