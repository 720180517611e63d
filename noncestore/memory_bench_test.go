package noncestore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/dchest/siphash"
)

// memBenchTTL is how long each benchmark nonce is held: a token's 300 s
// lifetime (SPEC §3).
const memBenchTTL = 300 * time.Second

// memBenchClock is a logical clock that makes a store hold about `live`
// nonces while claims go on: every claim moves it by memBenchTTL/live, so
// the nonce claimed `live` claims ago expires as a new one comes in.
type memBenchClock struct {
	claims atomic.Int64 // published in batches of memBenchBatch
	tick   time.Duration
}

const memBenchBatch = 64

func (c *memBenchClock) Now() time.Time {
	return memT0.Add(time.Duration(c.claims.Load()) * c.tick)
}

// memClaimer claims fresh nonces with until = now + memBenchTTL.
type memClaimer struct {
	m     *Memory
	clock *memBenchClock
	id    string // keeps the nonces of concurrent claimers apart
	n     int
	buf   [48]byte
}

func (c *memClaimer) claim(b testing.TB) {
	c.n++
	if c.n%memBenchBatch == 0 {
		c.clock.claims.Add(memBenchBatch)
	}
	nonce := strconv.AppendInt(append(c.buf[:0], c.id...), int64(c.n), 36)
	if _, err := c.m.Claim(context.Background(), "user:12345:67", string(nonce), c.clock.Now().Add(memBenchTTL)); err != nil {
		b.Fatalf("Claim: %v", err)
	}
}

// newMemBench returns a store holding about live nonces in its steady
// state, and a claimer that keeps it there: after the first live claims, it
// makes as many again, while the first expire, so that the tables have
// grown to the size they keep.
func newMemBench(b *testing.B, live int) (*Memory, *memBenchClock, *memClaimer) {
	b.Helper()
	if live > 1_000_000 && os.Getenv("NONCESTORE_BENCH_10M") == "" {
		b.Skip("set NONCESTORE_BENCH_10M=1 to run")
	}
	clock := &memBenchClock{tick: memBenchTTL / time.Duration(live)}
	m, err := NewMemory(WithClock(clock.Now), WithCapacity(2*live))
	if err != nil {
		b.Fatal(err)
	}
	c := &memClaimer{m: m, clock: clock, id: "prefill-"}
	for range 2 * live {
		c.claim(b)
	}
	return m, clock, c
}

// memBenchSizes are the numbers of live nonces the claim benchmarks hold
// steady; newMemBench skips the 10M case unless NONCESTORE_BENCH_10M is set,
// as it needs about 0.5 GB and a minute.
var memBenchSizes = []struct {
	name string
	live int
}{
	{"live=10k", 10_000},
	{"live=1M", 1_000_000},
	{"live=10M", 10_000_000},
}

// BenchmarkMemoryClaim measures a claim of a fresh nonce in a store that
// holds a steady number of live nonces.
func BenchmarkMemoryClaim(b *testing.B) {
	for _, size := range memBenchSizes {
		b.Run(size.name, func(b *testing.B) {
			m, _, c := newMemBench(b, size.live)
			b.ReportAllocs()
			for b.Loop() {
				c.claim(b)
			}
			b.ReportMetric(float64(memOccupied(m)), "slots-used")
		})
	}
}

// memControl is BenchmarkMemoryReclaimPause's control: memory the size of
// a store's tables, every word written (a page never written reads as the
// one zero page, always in cache), and a read that hashes a nonce and reads
// the word the hash picks, as a claim does besides its own logic.
type memControl struct {
	words  []uint64
	k0, k1 uint64 // a SipHash key, as the store's
}

func newMemControl(bytes int) *memControl {
	rng := rand.New(rand.NewPCG(1, 2))
	f := &memControl{words: make([]uint64, bytes/8), k0: rng.Uint64(), k1: rng.Uint64()}
	for i := range f.words {
		f.words[i] = rng.Uint64() | 1 // never zero
	}
	return f
}

func (f *memControl) read(nonce string) uint64 {
	h, _ := siphash.Hash128(f.k0, f.k1, []byte(nonce))
	return f.words[h%uint64(len(f.words))]
}

// BenchmarkMemoryClaimVsFloor tells a claim's own cost from the cost of
// the memory it reads. In turns of memFloorTurn each, which take turns
// going first, it claims fresh nonces in a store holding a steady number of
// live nonces (as BenchmarkMemoryClaim), and does the work such a claim
// cannot do without, the floor: it hashes a pair as the store does (its
// keyed SipHash), reads the shard the hash picks, and reads one slot of
// that shard's table. Each floor read's place
// depends on the slot read before, as each claim waits for the one before
// (the shard lock's atomic instructions order claims). It reports claim-ns
// and floor-ns per operation and their difference, over-floor-ns: the
// store's own work (locking, probing, reclaiming; ns/op is per turn of
// both, 2*memFloorTurn
// operations), and the tables' size at the end (table-MB). Once the tables
// outgrow the caches, the floor grows with the latency of memory, and the
// claim with it.
func BenchmarkMemoryClaimVsFloor(b *testing.B) {
	const memFloorTurn = 256
	for _, size := range memBenchSizes {
		b.Run(size.name, func(b *testing.B) {
			m, _, c := newMemBench(b, size.live)
			buf := make([]byte, 0, 32)
			var last, sum uint64
			n := 0
			var spent [2]time.Duration // claims, floor reads
			sides := [2]func(){
				func() {
					for range memFloorTurn {
						c.claim(b)
					}
				},
				func() {
					for range memFloorTurn {
						n++
						buf = strconv.AppendInt(append(buf[:0], "floor-"...), int64(n), 36)
						k := m.key("user:12345:67", string(buf))
						h := binary.LittleEndian.Uint64(k[:8]) ^ last
						s := &m.shards[h>>m.shift]
						last = uint64(s.slots[h&uint64(len(s.slots)-1)].exp) & 1
						sum += last
					}
				},
			}
			first := 0
			for b.Loop() {
				for k := range sides {
					side := (first + k) % len(sides)
					start := time.Now()
					sides[side]()
					spent[side] += time.Since(start)
				}
				first ^= 1
			}
			if sum == 0 { // used, so that the reads are made
				b.Fatal("the floor read only empty slots")
			}
			slots := 0
			for i := range m.shards {
				slots += len(m.shards[i].slots)
			}
			claim, floor := spent[0], spent[1]
			ops := float64(b.N * memFloorTurn)
			b.ReportMetric(float64(claim)/ops, "claim-ns")
			b.ReportMetric(float64(floor)/ops, "floor-ns")
			b.ReportMetric(float64(claim-floor)/ops, "over-floor-ns")
			b.ReportMetric(float64(slots*int(unsafe.Sizeof(memEntry{})))/(1<<20), "table-MB")
		})
	}
}

// BenchmarkMutexMapSetIfAbsent is the yardstick for BenchmarkMemoryClaim:
// the set-if-absent a hand-written store would do, a Go map from the
// issuer and nonce to the expiry under one mutex, holding a steady number
// of live nonces (each insert deletes the oldest, as expiry would). It has
// no capacity bound, no expiry of its own and no hashing key of its own.
func BenchmarkMutexMapSetIfAbsent(b *testing.B) {
	for _, size := range []struct {
		name string
		live int
	}{
		{"live=10k", 10_000},
		{"live=1M", 1_000_000},
	} {
		b.Run(size.name, func(b *testing.B) {
			var mu sync.Mutex
			seen := make(map[string]int64, size.live)
			key := func(n int) string { return "user:12345:67\x00" + strconv.FormatInt(int64(n), 36) }
			for n := range size.live {
				seen[key(n)] = int64(n)
			}
			n := size.live
			b.ReportAllocs()
			for b.Loop() {
				k := key(n)
				mu.Lock()
				if _, dup := seen[k]; dup {
					mu.Unlock()
					b.Fatal("replayed")
				}
				seen[k] = int64(n)
				delete(seen, key(n-size.live))
				mu.Unlock()
				n++
			}
		})
	}
}

// BenchmarkMemoryClaimParallel measures claims of fresh nonces from every
// core at once, in a store holding about a million live nonces.
func BenchmarkMemoryClaimParallel(b *testing.B) {
	m, clock, _ := newMemBench(b, 1_000_000)
	var ids atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &memClaimer{m: m, clock: clock, id: "g" + strconv.FormatInt(ids.Add(1), 10) + "-"}
		for pb.Next() {
			c.claim(b)
		}
	})
}

// BenchmarkMemoryReclaimPause fills a store to its capacity of a million
// nonces, lets them all expire at once, then has one goroutine or two
// (claimers=1, claimers=2) claim a million fresh nonces between them: every
// claim must make room by reclaiming, a run of slots every memStepEvery
// claims of a shard or, when the store is full, a shard at once. With two,
// a claim can also wait for the other's hold of a shard lock, and for the
// other's thread to be run again if it lost its core while holding one.
//
// It reports the longest claim (max-pause-ns), the largest 99.9th
// percentile of a round, and how many claims took over a millisecond
// (over-1ms, the total of all b.N rounds), in wall time: that includes
// whatever else the machine does meanwhile, such as running another
// process on the claim's core, or the host of a virtual machine not
// running its virtual CPU. To tell the machine's pauses from the store's,
// each goroutine follows every claim with a control: a memControl read over
// memory the size of the store's tables, what a claim does besides its own
// logic. Claims and controls take turns on the same threads, so the
// machine's pauses fall on either in proportion to the time each takes.
// The benchmark reports the controls' longest and their count over a
// millisecond too (control-max-pause-ns, control-over-1ms), and the time
// the claims of at most a millisecond took as a multiple of such controls'
// (claim-time/control-time): what the machine's pauses alone would make
// the ratio of the two counts. More long claims than that, beyond chance,
// would be the store's. BenchmarkMemoryShardHold times the store's longest
// lock holds alone. It also reports how many expired nonces are left
// unreclaimed at the end.
func BenchmarkMemoryReclaimPause(b *testing.B) {
	for _, claimers := range []int{1, 2} {
		b.Run("claimers="+strconv.Itoa(claimers), func(b *testing.B) { benchReclaimPause(b, claimers) })
	}
}

// benchReclaimPause is BenchmarkMemoryReclaimPause with claimers goroutines.
func benchReclaimPause(b *testing.B, claimers int) {
	// The control's memory: 40 MB, as the tables of a million nonces.
	const memControlBytes = 40 << 20
	const n = 1_000_000
	var claims, control memPauses
	var left int
	f := newMemControl(memControlBytes)
	for range b.N {
		b.StopTimer()
		clock := newMemTestClock(memT0)
		m, err := NewMemory(WithClock(clock.Now), WithCapacity(n))
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 32)
		for i := range n {
			buf = strconv.AppendInt(append(buf[:0], "old-"...), int64(i), 36)
			if _, err := m.Claim(context.Background(), "user:12345:67", string(buf), memT0.Add(memBenchTTL)); err != nil {
				b.Fatal(err)
			}
		}
		clock.Advance(memBenchTTL + time.Second) // all n expired
		until := clock.Now().Add(memBenchTTL)
		// No collection, nor its worker taking a core, while measuring.
		runtime.GC()
		b.StartTimer()
		timeInTurns(claimers, n, []*memPauses{&claims, &control}, []func(nonce string) error{
			func(nonce string) error {
				_, err := m.Claim(context.Background(), "user:12345:67", nonce, until)
				return err
			},
			func(nonce string) error {
				if f.read(nonce) == 0 { // used, so that the read is made
					return errors.New("the control read a word never written")
				}
				return nil
			},
		})
		b.StopTimer()
		if err := cmp.Or(claims.err, control.err); err != nil {
			b.Fatal(err)
		}
		left += memOccupied(m) - n
	}
	b.ReportMetric(float64(claims.worst.Nanoseconds()), "max-pause-ns")
	b.ReportMetric(float64(claims.p999.Nanoseconds()), "p99.9-pause-ns")
	b.ReportMetric(float64(claims.over1ms), "over-1ms")
	b.ReportMetric(float64(control.worst.Nanoseconds()), "control-max-pause-ns")
	b.ReportMetric(float64(control.over1ms), "control-over-1ms")
	b.ReportMetric(float64(claims.spent)/float64(control.spent), "claim-time/control-time")
	b.ReportMetric(float64(left)/float64(b.N), "expired-left")
}

// memPauses is what BenchmarkMemoryReclaimPause keeps of the operations of
// one kind it times, over all its rounds: the longest and the largest
// 99.9th percentile in wall time, how many took over a millisecond, the
// time the others took in all, and the first error.
type memPauses struct {
	worst, p999 time.Duration
	over1ms     int
	spent       time.Duration
	err         error
}

// timeInTurns runs n calls of each of ops on g goroutines: for each fresh
// nonce, a goroutine calls every op in turn. It records the durations of
// ops[k] in rec[k].
func timeInTurns(g, n int, rec []*memPauses, ops []func(nonce string) error) {
	wall := make([][][]time.Duration, g) // by goroutine, then op
	errs := make([]error, g)
	var wg sync.WaitGroup
	for i := range g {
		wall[i] = make([][]time.Duration, len(ops))
		for k := range ops {
			wall[i][k] = make([]time.Duration, 0, n/g)
		}
		wg.Go(func() {
			buf := make([]byte, 0, 32)
			for j := range n / g {
				buf = strconv.AppendInt(append(buf[:0], byte('a'+i)), int64(j), 36)
				nonce := string(buf)
				for k, op := range ops {
					start := time.Now()
					err := op(nonce)
					wall[i][k] = append(wall[i][k], time.Since(start))
					if err != nil {
						errs[i] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for k, p := range rec {
		var all []time.Duration
		for i := range wall {
			all = append(all, wall[i][k]...)
		}
		slices.Sort(all)
		p.worst = max(p.worst, all[len(all)-1])
		p.p999 = max(p.p999, all[len(all)*999/1000])
		for _, d := range all {
			if d > time.Millisecond {
				p.over1ms++
			} else {
				p.spent += d
			}
		}
		p.err = cmp.Or(p.err, errors.Join(errs...))
	}
}

// BenchmarkMemoryShardHold measures the longest a claim holds a shard lock:
// sweeping a shard whose every entry expired (as a claim does that finds
// the store full, or a shard that must grow) and growing a shard, at the
// shard size of stores of 1M and 10M nonces. hold-ns times the operation
// alone; ns/op adds the copy that sets the shard up again.
func BenchmarkMemoryShardHold(b *testing.B) {
	for _, size := range []struct {
		name string
		live int
	}{
		{"store=1M", 1_000_000},
		{"store=10M", 10_000_000},
	} {
		// The table a shard of a full store has, filled to where it grows.
		m, err := NewMemory(WithCapacity(size.live))
		if err != nil {
			b.Fatal(err)
		}
		slots := memMinSlots
		for slots*3/4 < size.live/len(m.shards) {
			slots *= 2
		}
		full := &memShard{}
		full.slots = make([]memEntry, slots)
		rng := rand.New(rand.NewPCG(1, 2))
		for int(full.used+1)*4 <= slots*3 {
			var k memKey
			binary.LittleEndian.PutUint64(k[:8], rng.Uint64())
			binary.LittleEndian.PutUint64(k[8:], rng.Uint64())
			full.put(memEntry{key: k, exp: 10})
		}
		for _, op := range []struct {
			name string
			run  func(s *memShard)
		}{
			{"sweep", func(s *memShard) { s.sweep(11) }}, // all expired
			{"grow", func(s *memShard) { s.grow(5) }},    // none expired
		} {
			b.Run(op.name+"/"+size.name, func(b *testing.B) {
				s := &memShard{}
				s.slots = make([]memEntry, slots)
				var hold time.Duration
				for range b.N {
					s.slots, s.used = s.slots[:slots], full.used
					copy(s.slots, full.slots)
					start := time.Now()
					op.run(s)
					hold += time.Since(start)
				}
				b.ReportMetric(float64(full.used), "entries")
				b.ReportMetric(float64(hold.Nanoseconds())/float64(b.N), "hold-ns")
			})
		}
	}
}

// BenchmarkMemoryKeyHash is what the store's keyed hash costs a claim, in
// turns with the hash it replaced, which could not be saved with the
// nonces: two hash/maphash sums under random per-process seeds. Each turn
// hashes memHashTurn pairs of BenchmarkMemoryClaim's shape (its issuer, a
// fresh nonce) each way; it reports sip-ns and maphash-ns per pair (both
// include making the nonce's string) and their difference, delta-ns, the
// time the change adds to every claim (ns/op is per turn of both).
func BenchmarkMemoryKeyHash(b *testing.B) {
	const memHashTurn = 256
	m, err := NewMemory()
	if err != nil {
		b.Fatal(err)
	}
	seeds := [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	var buf [memKeyBuf]byte
	var sum uint64
	n := 0
	nonce := func() string {
		n++
		return string(strconv.AppendInt(append(buf[:0:16], "prefill-"...), int64(n), 36))
	}
	var spent [2]time.Duration
	sides := [2]func(){
		func() {
			for range memHashTurn {
				k := m.key("user:12345:67", nonce())
				sum += binary.LittleEndian.Uint64(k[:8])
			}
		},
		func() {
			for range memHashTurn {
				msg := binary.LittleEndian.AppendUint64(buf[16:16], uint64(len("user:12345:67")))
				msg = append(append(msg, "user:12345:67"...), nonce()...)
				sum += maphash.Bytes(seeds[0], msg) ^ maphash.Bytes(seeds[1], msg)
			}
		},
	}
	first := 0
	for b.Loop() {
		for k := range sides {
			side := (first + k) % len(sides)
			start := time.Now()
			sides[side]()
			spent[side] += time.Since(start)
		}
		first ^= 1
	}
	if sum == 0 {
		b.Fatal("no hash was used")
	}
	ops := float64(b.N * memHashTurn)
	b.ReportMetric(float64(spent[0])/ops, "sip-ns")
	b.ReportMetric(float64(spent[1])/ops, "maphash-ns")
	b.ReportMetric(float64(spent[0]-spent[1])/ops, "delta-ns")
}
