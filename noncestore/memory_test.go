package noncestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memT0 is where the test clocks start: not on a whole second, so that the
// rounding of expiries to seconds is exercised.
var memT0 = time.Date(2025, 3, 1, 12, 0, 0, 300_000_000, time.UTC)

// memLong is longer than the buffer Memory.key hashes on the stack.
var memLong = strings.Repeat("x", memKeyBuf)

// memTestClock is a clock that moves only when told to.
type memTestClock struct{ ns atomic.Int64 }

func newMemTestClock(t0 time.Time) *memTestClock {
	c := &memTestClock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *memTestClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *memTestClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *memTestClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// newMemTest returns a store on a test clock that reads t0, failing t on
// error, and checks the store's internal invariants when t ends.
func newMemTest(t testing.TB, t0 time.Time, opts ...MemoryOption) (*Memory, *memTestClock) {
	t.Helper()
	clock := newMemTestClock(t0)
	m, err := NewMemory(append([]MemoryOption{WithClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	c := memConfig{capacity: DefaultMemoryCapacity}
	for _, o := range opts {
		o(&c)
	}
	t.Cleanup(func() { checkMemInvariants(t, m, c.capacity) })
	return m, clock
}

// checkMemInvariants fails t unless every shard passes checkMemShard, every
// entry is in its own shard, and the quotas and the pool add up to the
// capacity.
func checkMemInvariants(t testing.TB, m *Memory, capacity int) {
	t.Helper()
	quotas := 0
	for si := range m.shards {
		s := &m.shards[si]
		s.mu.Lock()
		name := fmt.Sprintf("shard %d", si)
		checkMemShard(t, name, s)
		for i, e := range s.slots {
			if e.exp != 0 && e.key.shard(m.shift) != si {
				t.Errorf("%s slot %d: key belongs to shard %d", name, i, e.key.shard(m.shift))
			}
		}
		if s.used > s.quota || s.spare.Load() != (s.quota > s.used) {
			t.Errorf("%s: used %d, quota %d, spare %v", name, s.used, s.quota, s.spare.Load())
		}
		quotas += int(s.quota)
		s.mu.Unlock()
	}
	if pool := m.pool.Load(); quotas+int(pool) != capacity {
		t.Errorf("quotas %d + pool %d != capacity %d", quotas, pool, capacity)
	}
}

// checkMemShard fails t unless, in shard s (locked by the caller, or
// unshared), every entry can be found from its home slot, used counts the
// occupied slots and at most 3/4 of them, minExp is a lower bound of every
// expiry, and roundMin of every expiry behind the cursor.
func checkMemShard(t testing.TB, name string, s *memShard) {
	t.Helper()
	n := len(s.slots)
	if n != 0 && n&(n-1) != 0 {
		t.Errorf("%s: table length %d is not a power of two", name, n)
	}
	used := 0
	for i, e := range s.slots {
		if e.exp == 0 {
			continue
		}
		used++
		if e.exp < s.minExp.Load() {
			t.Errorf("%s slot %d: exp %d below minExp %d", name, i, e.exp, s.minExp.Load())
		}
		if i < int(s.cursor) && e.exp < s.roundMin {
			t.Errorf("%s slot %d, behind the cursor at %d: exp %d below roundMin %d", name, i, s.cursor, e.exp, s.roundMin)
		}
		for j := e.key.home() & (n - 1); j != i; j = (j + 1) & (n - 1) {
			if s.slots[j].exp == 0 {
				t.Errorf("%s slot %d: unreachable, empty slot %d after its home", name, i, j)
				break
			}
		}
	}
	if used != int(s.used) || used*4 > n*3 {
		t.Errorf("%s: %d of %d slots occupied; used %d", name, used, n, s.used)
	}
}

// memOccupied is how many slots of m hold an entry, expired or not.
func memOccupied(m *Memory) int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += int(m.shards[i].used)
		m.shards[i].mu.Unlock()
	}
	return n
}

func TestNewMemoryInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  MemoryOption
	}{
		{name: "zero capacity", opt: WithCapacity(0)},
		{name: "negative capacity", opt: WithCapacity(-1)},
		{name: "nil clock", opt: WithClock(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewMemory(WithCapacity(10), tt.opt)
			if err == nil || m != nil {
				t.Fatalf("NewMemory = %v, %v; want nil and an error", m, err)
			}
		})
	}
}

func TestMemoryClaim(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Second
	// op is one Claim: at the clock reading memT0+at, until memT0+until.
	type op struct {
		at            time.Duration
		issuer, nonce string
		until         time.Duration
		want          error // nil, ErrReplayed or ErrUnavailable (errors.Is)
	}
	tests := []struct {
		name string
		opts []MemoryOption
		ops  []op
	}{
		{
			name: "fresh pair",
			ops:  []op{{0, "user:1:1", "n1", ttl, nil}},
		},
		{
			name: "same pair replayed",
			ops: []op{
				{0, "user:1:1", "n1", ttl, nil},
				{0, "user:1:1", "n1", ttl, ErrReplayed},
				{time.Minute, "user:1:1", "n1", ttl, ErrReplayed},
			},
		},
		{
			name: "same nonce other issuer",
			ops: []op{
				{0, "user:1:1", "n1", ttl, nil},
				{0, "user:2:1", "n1", ttl, nil},
				{0, "user:1:1", "n2", ttl, nil},
				{0, "user:2:1", "n1", ttl, ErrReplayed},
			},
		},
		{
			name: "issuer nonce boundary",
			ops: []op{
				{0, "a:b", "c", ttl, nil},
				{0, "a", "b:c", ttl, nil},
				{0, "ab", "c", ttl, nil},
				{0, "a", "bc", ttl, nil},
				{0, "abc", "", ttl, nil},
				{0, "", "abc", ttl, nil},
				{0, "", "", ttl, nil},
				{0, "a:b", "c", ttl, ErrReplayed},
				{0, "a", "b:c", ttl, ErrReplayed},
				{0, "", "", ttl, ErrReplayed},
			},
		},
		{
			name: "pairs longer than the hashing buffer",
			ops: []op{
				{0, "i", memLong + "1", ttl, nil},
				{0, "i", memLong + "2", ttl, nil},
				{0, memLong, "1", ttl, nil},
				{0, "i", memLong + "1", ttl, ErrReplayed},
				{0, memLong, "1", ttl, ErrReplayed},
			},
		},
		{
			name: "held until until, reusable a second after",
			ops: []op{
				{0, "i", "n", 10 * time.Second, nil},
				{5 * time.Second, "i", "n", ttl, ErrReplayed},
				{10 * time.Second, "i", "n", ttl, ErrReplayed},
				{11 * time.Second, "i", "n", 20 * time.Second, nil},
				{20 * time.Second, "i", "n", ttl, ErrReplayed},
				{21 * time.Second, "i", "n", ttl, nil},
			},
		},
		{
			name: "a replay does not shorten the hold",
			ops: []op{
				{0, "i", "n", ttl, nil},
				{0, "i", "n", 10 * time.Second, ErrReplayed},
				{20 * time.Second, "i", "n", 30 * time.Second, ErrReplayed},
			},
		},
		{
			name: "until already past",
			ops: []op{
				{100 * time.Second, "i", "n", 50 * time.Second, nil},
				{100 * time.Second, "i", "n", 50 * time.Second, nil},
			},
		},
		{
			name: "until beyond the 136-year range is held for good",
			ops: []op{
				{0, "i", "n", 200 * 365 * 24 * time.Hour, nil},
				{150 * 365 * 24 * time.Hour, "i", "n", ttl, ErrReplayed},
			},
		},
		{
			name: "clock set back forgets nothing",
			ops: []op{
				{100 * time.Second, "i", "n", 110 * time.Second, nil},
				{-time.Hour, "i", "n", ttl, ErrReplayed},
				{110 * time.Second, "i", "n", ttl, ErrReplayed},
			},
		},
		{
			name: "capacity full fails closed, room again after expiry",
			opts: []MemoryOption{WithCapacity(2)},
			ops: []op{
				{0, "i", "a", 10 * time.Second, nil},
				{0, "i", "b", 20 * time.Second, nil},
				{0, "i", "c", ttl, ErrUnavailable},
				{0, "i", "a", ttl, ErrReplayed},
				{5 * time.Second, "i", "c", ttl, ErrUnavailable},
				{11 * time.Second, "i", "c", ttl, nil},
				{11 * time.Second, "i", "d", ttl, ErrUnavailable},
				{11 * time.Second, "i", "b", ttl, ErrReplayed},
				{21 * time.Second, "i", "d", ttl, nil},
				{21 * time.Second, "i", "e", ttl, ErrUnavailable},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, clock := newMemTest(t, memT0, tt.opts...)
			for i, o := range tt.ops {
				clock.Set(memT0.Add(o.at))
				_, err := m.Claim(context.Background(), o.issuer, o.nonce, memT0.Add(o.until))
				if !errors.Is(err, o.want) || (o.want == nil && err != nil) {
					t.Errorf("op %d: Claim(%q, %q) at +%v = %v, want %v", i, o.issuer, o.nonce, o.at, err, o.want)
				}
			}
		})
	}
}

func TestMemoryFullErrorIsNotReplayed(t *testing.T) {
	t.Parallel()
	m, _ := newMemTest(t, memT0, WithCapacity(1))
	ctx := context.Background()
	until := memT0.Add(time.Minute)
	if _, err := m.Claim(ctx, "i", "a", until); err != nil {
		t.Fatalf("first Claim: %v", err)
	}
	_, err := m.Claim(ctx, "i", "b", until)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrReplayed) {
		t.Fatalf("Claim when full = %v, want ErrUnavailable and not ErrReplayed", err)
	}
}

func TestMemoryEpoch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []MemoryOption
		want time.Time
	}{
		{name: "guard off by default", want: time.Time{}},
		{name: "guard off", opts: []MemoryOption{WithResetGuard(false)}, want: time.Time{}},
		{name: "guard on: creation time", opts: []MemoryOption{WithResetGuard(true)}, want: memT0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, clock := newMemTest(t, memT0, append(tt.opts, WithCapacity(1))...)
			clock.Advance(time.Hour) // the epoch does not follow the clock
			until := clock.Now().Add(time.Minute)
			for i, want := range []error{nil, ErrReplayed, ErrUnavailable} {
				nonce := []string{"a", "a", "b"}[i]
				epoch, err := m.Claim(context.Background(), "i", nonce, until)
				if !errors.Is(err, want) || (want == nil && err != nil) {
					t.Fatalf("Claim %d = %v, want %v", i, err, want)
				}
				if !epoch.Equal(tt.want) || epoch.IsZero() != tt.want.IsZero() {
					t.Errorf("Claim %d epoch = %v, want %v", i, epoch, tt.want)
				}
			}
		})
	}
}

func TestMemoryPing(t *testing.T) {
	t.Parallel()
	m, clock := newMemTest(t, memT0, WithCapacity(1))
	ctx := context.Background()
	if _, err := m.Ping(ctx); err != nil {
		t.Fatalf("Ping empty = %v", err)
	}
	if _, err := m.Claim(ctx, "i", "a", memT0.Add(10*time.Second)); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if _, err := m.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping full = %v, want ErrUnavailable", err)
	}
	clock.Advance(11 * time.Second)
	if _, err := m.Ping(ctx); err != nil {
		t.Fatalf("Ping after expiry = %v, want nil", err)
	}
}

// TestMemoryConcurrentClaims: of many simultaneous claims of one pair,
// exactly one succeeds (SPEC §5), for each of many pairs.
func TestMemoryConcurrentClaims(t *testing.T) {
	t.Parallel()
	const goroutines, pairs = 64, 50
	m, _ := newMemTest(t, memT0)
	until := memT0.Add(time.Minute)
	for p := range pairs {
		nonce := fmt.Sprintf("n%d", p)
		var wins, replays atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for range goroutines {
			done.Go(func() {
				start.Wait()
				switch _, err := m.Claim(context.Background(), "user:1:1", nonce, until); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrReplayed):
					replays.Add(1)
				default:
					t.Errorf("Claim: %v", err)
				}
			})
		}
		start.Done()
		done.Wait()
		if wins.Load() != 1 || replays.Load() != goroutines-1 {
			t.Fatalf("pair %d: %d successes, %d replays; want 1 and %d", p, wins.Load(), replays.Load(), goroutines-1)
		}
	}
}

// TestMemoryConcurrentCapacity: concurrent claims of distinct nonces never
// fill the store past its capacity, and leak none of it: once they are
// done, further claims fill it to exactly its capacity.
func TestMemoryConcurrentCapacity(t *testing.T) {
	t.Parallel()
	const capacity, goroutines, each = 100, 8, 50
	m, _ := newMemTest(t, memT0, WithCapacity(capacity))
	ctx := context.Background()
	until := memT0.Add(time.Minute)
	var wins atomic.Int32
	var done sync.WaitGroup
	for g := range goroutines {
		done.Go(func() {
			for i := range each {
				switch _, err := m.Claim(ctx, "i", fmt.Sprintf("%d/%d", g, i), until); {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrUnavailable):
					t.Errorf("Claim: %v", err)
				}
			}
		})
	}
	done.Wait()
	if wins.Load() > capacity {
		t.Fatalf("%d concurrent claims succeeded, capacity %d", wins.Load(), capacity)
	}
	for i := 0; ; i++ {
		_, err := m.Claim(ctx, "i", fmt.Sprintf("after/%d", i), until)
		if errors.Is(err, ErrUnavailable) {
			break
		}
		if err != nil {
			t.Fatalf("Claim after: %v", err)
		}
		wins.Add(1)
	}
	if wins.Load() != capacity {
		t.Fatalf("store took %d nonces in all, want its capacity %d", wins.Load(), capacity)
	}
}

// TestMemoryConcurrentChurn runs claims of a small key space from several
// goroutines while the clock moves, so that claims, reclaiming and the
// capacity quotas meet; the invariants are checked when it ends, and the
// race detector watches.
func TestMemoryConcurrentChurn(t *testing.T) {
	t.Parallel()
	const goroutines, each = 4, 5_000
	m, clock := newMemTest(t, memT0, WithCapacity(300))
	var done sync.WaitGroup
	for g := range goroutines {
		done.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range each {
				if g == 0 && i%50 == 0 {
					clock.Advance(time.Second)
				}
				now := clock.Now()
				nonce := fmt.Sprintf("n%d", rng.IntN(1_000))
				_, err := m.Claim(context.Background(), "i", nonce, now.Add(time.Duration(rng.IntN(20))*time.Second))
				if err != nil && !errors.Is(err, ErrReplayed) && !errors.Is(err, ErrUnavailable) {
					t.Errorf("Claim: %v", err)
				}
			}
		})
	}
	done.Wait()
}

// TestMemoryMatchesModel runs random claims on a small key space against a
// map that knows the answers, moving the clock in whole seconds so that the
// store's rounding is exact: held while now <= until, refused while the
// live pairs fill the capacity.
func TestMemoryMatchesModel(t *testing.T) {
	t.Parallel()
	const (
		ops      = 60_000
		issuers  = 3
		nonces   = 2_000
		capacity = 1_500
	)
	t0 := memT0.Truncate(time.Second)
	m, clock := newMemTest(t, t0, WithCapacity(capacity))
	type pair struct{ issuer, nonce string }
	held := map[pair]time.Time{}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[error]int{}
	t.Cleanup(func() {
		for _, want := range []error{nil, ErrReplayed, ErrUnavailable} {
			if seen[want] < ops/20 {
				t.Errorf("only %d of %d claims answered %v: the model test lost its reach", seen[want], ops, want)
			}
		}
		t.Logf("answers: %v", seen)
	})
	now := t0
	for i := range ops {
		if rng.IntN(100) == 0 {
			now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
			clock.Set(now)
			for q, u := range held {
				if now.After(u) {
					delete(held, q)
				}
			}
		}
		p := pair{fmt.Sprintf("user:%d:1", rng.IntN(issuers)), fmt.Sprintf("n%d", rng.IntN(nonces))}
		until := now.Add(time.Duration(rng.IntN(40)-5) * time.Second)
		var want error
		switch _, ok := held[p]; {
		case ok:
			want = ErrReplayed
		case len(held) >= capacity:
			want = ErrUnavailable
		case !now.After(until):
			held[p] = until
		}
		_, err := m.Claim(context.Background(), p.issuer, p.nonce, until)
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("op %d: Claim(%v) at %v until %v = %v, want %v", i, p, now.Sub(t0), until.Sub(t0), err, want)
		}
		seen[want]++
		if i%5_000 == 0 {
			checkMemInvariants(t, m, capacity)
		}
	}
}

// TestMemoryMatchesModelLarge keeps some 25,000 pairs live, their expiries
// spread over a minute, under a clock moving a second every 1,000 claims:
// the shards' tables outgrow a reclaim step, so the cursor runs rounds over
// them and steps start inside clusters. A claim must be refused as replayed
// exactly when a map of the pairs claimed holds the pair live.
func TestMemoryMatchesModelLarge(t *testing.T) {
	t.Parallel()
	const (
		nonces   = 150_000
		capacity = 50_000
		perTick  = 1_000
		ops      = 200_000 // 0.1 s, 0.8 s under -race
	)
	t0 := memT0.Truncate(time.Second)
	m, clock := newMemTest(t, t0, WithCapacity(capacity))
	names := make([]string, nonces)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	held := map[int]time.Time{}
	rng := rand.New(rand.NewPCG(3, 4))
	now, replays := t0, 0
	for i := range ops {
		if i%perTick == 0 {
			now = now.Add(time.Second)
			clock.Set(now)
		}
		n := rng.IntN(nonces)
		until := now.Add(time.Duration(rng.IntN(61)-1) * time.Second)
		var want error
		if u, ok := held[n]; ok && !now.After(u) {
			want = ErrReplayed
			replays++
		} else if !now.After(until) {
			held[n] = until
		}
		_, err := m.Claim(context.Background(), "user:1:1", names[n], until)
		if err != want {
			t.Fatalf("op %d: Claim(%s) at %v until %v = %v, want %v", i, names[n], now.Sub(t0), until.Sub(t0), err, want)
		}
		if i%20_000 == 0 {
			checkMemInvariants(t, m, capacity)
		}
	}
	live := 0
	for _, u := range held {
		if !now.After(u) {
			live++
		}
	}
	small := 0
	for i := range m.shards {
		if len(m.shards[i].slots) <= memStepSlots {
			small++
		}
	}
	t.Logf("%d claims: %d replays, %d live at the end, %d of %d shards within one step", ops, replays, live, small, len(m.shards))
	if live < 20_000 || replays < ops/20 || small > 0 {
		t.Errorf("the test lost its reach: %d live, %d replays, %d tables of at most %d slots", live, replays, small, memStepSlots)
	}
}

// memTestKey returns a key whose home is slot home of any table of at most
// 2^32 slots, and which id tells apart from the others.
func memTestKey(home int, id uint32) memKey {
	var k memKey
	binary.LittleEndian.PutUint64(k[:8], uint64(id)<<32|uint64(home))
	binary.LittleEndian.PutUint32(k[8:], id)
	return k
}

// TestMemoryShardSteps lays out shards by hand, with clusters (runs of
// occupied slots) of expired and live entries, one cluster wrapping past the
// end of the table, and the cursor inside a cluster, then runs steps, sweeps
// and claims of keys at home before and after the cursor, checking after
// each that the shard keeps its invariants (checkMemShard), that every live
// entry claimed is still there and nothing else is, and that a round which
// reclaimed the last expired entries ends with minExp past them.
func TestMemoryShardSteps(t *testing.T) {
	t.Parallel()
	// cluster is n entries from slot start on, the first at home there, the
	// others at home in the run before them.
	type cluster struct{ start, n int }
	tests := []struct {
		name     string
		slots    int
		clusters []cluster
		cursor   int
	}{
		{"cursor inside a cluster", 1024, []cluster{{40, 20}, {300, 40}, {600, 30}, {1000, 40}}, 320},
		{"cursor inside the wrapping cluster, step ends a round", 1024, []cluster{{40, 20}, {300, 40}, {600, 30}, {1000, 40}}, 1010},
		{"cursor inside the wrapping cluster after slot 0", 1024, []cluster{{40, 20}, {300, 40}, {600, 30}, {1000, 40}}, 5},
		{"table of one step", 256, []cluster{{20, 30}, {128, 40}, {240, 30}}, 140},
		{"table smaller than a step", 64, []cluster{{8, 8}, {30, 10}, {58, 12}}, 34},
		{"table smaller than a step, cursor in the wrapping cluster after slot 0", 64, []cluster{{8, 8}, {30, 10}, {54, 14}}, 2},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewMemory() // for claim's signature: the quota below never runs out
			if err != nil {
				t.Fatal(err)
			}
			// Entries of the layout expire by now, or live past now+10.
			now := uint32(100)
			rng := rand.New(rand.NewPCG(uint64(ti), 5))
			s := &memShard{}
			s.slots, s.quota = make([]memEntry, tt.slots), math.MaxInt32
			mask := tt.slots - 1
			model := map[memKey]uint32{} // every entry claimed, expired or not
			id := uint32(0)
			for _, c := range tt.clusters {
				for j := range c.n {
					id++
					k := memTestKey((c.start+rng.IntN(j+1))&mask, id)
					exp := now + 10 + uint32(rng.IntN(20))
					if rng.IntN(2) == 0 {
						exp = now - uint32(rng.IntN(10))
					}
					if got := s.put(memEntry{key: k, exp: exp}); got != (c.start+j)&mask {
						t.Fatalf("layout: entry %d of cluster at %d put in slot %d", j, c.start, got)
					}
					model[k] = exp
				}
			}
			s.cursor = int32(tt.cursor)
			least, behind := uint32(math.MaxUint32), uint32(math.MaxUint32)
			for i, e := range s.slots {
				if e.exp != 0 {
					least = min(least, e.exp)
					if i < tt.cursor {
						behind = min(behind, e.exp)
					}
				}
			}
			s.minExp.Store(least)
			s.roundMin = behind

			check := func(op string) {
				t.Helper()
				checkMemShard(t, op, s)
				for k, exp := range model {
					i := k.home() & mask
					for s.slots[i].exp != 0 && s.slots[i].key != k {
						i = (i + 1) & mask
					}
					switch e := s.slots[i]; {
					case e.exp == 0 && exp > now:
						t.Errorf("%s: live entry %x (exp %d, now %d) lost", op, k, exp, now)
					case e.exp != 0 && e.exp != exp:
						t.Errorf("%s: entry %x in slot %d expires at %d, claimed until %d", op, k, i, e.exp, exp)
					}
				}
				for i, e := range s.slots {
					if exp, ok := model[e.key]; e.exp != 0 && (!ok || exp != e.exp) {
						t.Errorf("%s: slot %d holds %x (exp %d), never claimed so", op, i, e.key, e.exp)
					}
				}
			}
			claim := func(op string, k memKey, exp uint32) {
				t.Helper()
				var want error
				if old, ok := model[k]; ok && old > now {
					want = ErrReplayed
				}
				if err := s.claim(m, k, now, exp); err != want {
					t.Errorf("%s: claim = %v, want %v", op, err, want)
				}
				if want == nil {
					model[k] = exp
				}
				check(op)
			}
			// emptyFrom returns the first empty slot in [from, to), or fails.
			emptyFrom := func(from, to int) int {
				t.Helper()
				for i := from; i < to; i++ {
					if s.slots[i].exp == 0 {
						return i
					}
				}
				t.Fatalf("no empty slot in [%d, %d)", from, to)
				return -1
			}
			newKey := func(home int) memKey {
				id++
				return memTestKey(home&mask, id)
			}

			check("layout")
			s.step(now)
			check("step")
			// Claims of new keys that expire before anything else live: one
			// behind the cursor must lower roundMin, which every expiry
			// behind the cursor bounds.
			c := int(s.cursor)
			claim("claim at home in an empty slot behind the cursor", newKey(emptyFrom(0, c)), now+1)
			claim("claim at home just behind the cursor", newKey(c-1), now+1)
			claim("claim at home at the cursor", newKey(c), now+12)
			claim("claim at home ahead of the cursor", newKey(c+7), now+12)
			for k, exp := range model {
				if exp > now {
					claim("claim of a live key", k, now+30)
					break
				}
			}
			for k, exp := range model {
				if exp <= now {
					claim("claim of an expired key", k, now+15)
					break
				}
			}
			s.sweep(now)
			check("sweep")
			now += 2 // the entries claimed until now+1 expire
			s.sweep(now)
			check("sweep, later")
			// A claim ahead of the cursor that expires before the cursor
			// reaches it must not keep minExp down when the round ends.
			c = int(s.cursor)
			claim("claim at home in an empty slot ahead of the cursor", newKey(emptyFrom(c+1, tt.slots)), now+1)
			now += 2
			for n := 0; n < tt.slots; n += memStepSlots {
				s.step(now)
				check("step, later")
			}
			if got := s.minExp.Load(); got <= now {
				t.Errorf("after a round of steps at %d that left no expired entry, minExp = %d", now, got)
			}
		})
	}
}

// TestMemoryReclaimsExpired fills a store to capacity, lets every entry
// expire, and fills it again: the expired entries make room without a sweep
// being asked for.
func TestMemoryReclaimsExpired(t *testing.T) {
	t.Parallel()
	const n = 50_000
	m, clock := newMemTest(t, memT0, WithCapacity(n))
	ctx := context.Background()
	for round := range 3 {
		until := clock.Now().Add(10 * time.Second)
		for i := range n {
			if _, err := m.Claim(ctx, "i", fmt.Sprintf("%d/%d", round, i), until); err != nil {
				t.Fatalf("round %d claim %d: %v", round, i, err)
			}
		}
		if _, err := m.Claim(ctx, "i", "one more", until); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("round %d: claim over capacity = %v, want ErrUnavailable", round, err)
		}
		checkMemInvariants(t, m, n)
		clock.Advance(11 * time.Second)
	}
}

// TestMemoryClaimAllocs: Claim does not allocate in steady state (tables
// sized, old nonces expiring as new ones come), whether it records, refuses
// a replay or refuses for want of room.
func TestMemoryClaimAllocs(t *testing.T) {
	const runs, old = 1_000, 20_000
	nonces := make([]string, old+runs+1)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("jti-%d", i)
	}
	ctx := context.Background()
	m, clock := newMemTest(t, memT0, WithCapacity(old))
	for _, n := range nonces[:old] {
		if _, err := m.Claim(ctx, "user:1:1", n, memT0.Add(10*time.Second)); err != nil {
			t.Fatalf("prefill: %v", err)
		}
	}
	clock.Advance(11 * time.Second) // the old nonces have expired
	until := memT0.Add(time.Minute)
	full, _ := newMemTest(t, memT0, WithCapacity(1))
	if _, err := full.Claim(ctx, "user:1:1", "x", until); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	next := old
	tests := []struct {
		name  string
		claim func() error
		want  error
	}{
		{"new nonce", func() error {
			next++
			_, err := m.Claim(ctx, "user:1:1", nonces[next-1], until)
			return err
		}, nil},
		{"replay", func() error { _, err := m.Claim(ctx, "user:1:1", nonces[old], until); return err }, ErrReplayed},
		{"store full", func() error { _, err := full.Claim(ctx, "user:1:1", "y", until); return err }, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(runs, func() {
				if err = tt.claim(); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Errorf("Claim = %v, want %v", err, tt.want)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per Claim, want 0", allocs)
			}
		})
	}
}

// TestMemoryBytesPerNonce: a million live nonces take under 64 bytes each,
// measured on the heap after a collection.
func TestMemoryBytesPerNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a million nonces")
	}
	const n, limit = 1_000_000, 64
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := NewMemory(WithCapacity(n))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	buf := make([]byte, 0, 32)
	for i := range n {
		buf = fmt.Appendf(buf[:0], "jti-%d", i)
		if _, err := m.Claim(ctx, "user:12345:67", string(buf), until); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perNonce := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	runtime.KeepAlive(m)
	t.Logf("%d live nonces: %.1f bytes each", n, perNonce)
	if perNonce >= limit {
		t.Errorf("%.1f bytes per live nonce, want < %d", perNonce, limit)
	}
}
