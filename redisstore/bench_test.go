//go:build unix

package redisstore

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// The benchmarks in this file share one shape so their ratios can be read
// from one run: a fresh redis-server (its address is logged, for
// redis-benchmark), a go-redis client with default pool settings, a new
// nonce for every operation, and sequential, 16 and 64 concurrent callers.
// Round trips on a shared machine drift between runs: compare medians of
// several runs, and the paired ratios of BenchmarkClaimVsRaw and
// BenchmarkClaimParallelVsRaw, which also run go-redis's own autopipeliner
// beside the store's batcher (see autoPipelineClaim; README, "Why the
// store batches claims itself").
//
//	go test -run XXX -bench . -benchmem -count 6 ./redisstore/

var benchGoroutines = []int{16, 64}

func benchServer(b *testing.B) *redis.Client {
	s := redistest.Start(b)
	b.Logf("redis-server at %s", s.Addr())
	return testRedisClient(b, s.Addr())
}

// benchParallel runs op from n goroutines (rounded to a multiple of
// GOMAXPROCS, as b.SetParallelism does).
func benchParallel(b *testing.B, n int, op func(i uint64) error) {
	b.SetParallelism(max(1, n/runtime.GOMAXPROCS(0)))
	var seq atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(seq.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkClaim(b *testing.B) {
	for _, guard := range []bool{true, false} {
		b.Run(fmt.Sprintf("guard=%v", guard), func(b *testing.B) {
			s, err := New(benchServer(b), WithResetGuard(guard))
			if err != nil {
				b.Fatal(err)
			}
			ctx, until := context.Background(), time.Now().Add(time.Minute)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Claim(ctx, "user:1:1", strconv.Itoa(i), until); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkClaimParallel(b *testing.B) {
	for _, n := range benchGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			s, err := New(benchServer(b))
			if err != nil {
				b.Fatal(err)
			}
			ctx, until := context.Background(), time.Now().Add(time.Minute)
			b.ReportAllocs()
			benchParallel(b, n, func(i uint64) error {
				_, err := s.Claim(ctx, "user:1:1", strconv.FormatUint(i, 10), until)
				return err
			})
		})
	}
}

// rawSetNX is the yardstick's operation: go-redis's SET key 1 NX PXAT, one
// command per call, no batching, no deadline of its own. Its key and value
// are shorter than a claim's (17 and 1 bytes against 45 and about 21);
// lengths like a claim's cost it no measurable time, so it keeps them.
func rawSetNX(c *redis.Client, i uint64, until time.Time) error {
	return c.SetArgs(context.Background(), DefaultKeyPrefix+strconv.FormatUint(i, 16), "1",
		redis.SetArgs{Mode: "NX", ExpireAt: until}).Err()
}

// BenchmarkRawSetNX is the yardstick: rawSetNX from one caller, and
// from 16 and 64 concurrent callers.
func BenchmarkRawSetNX(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		c, until := benchServer(b), time.Now().Add(time.Minute)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := rawSetNX(c, uint64(i), until); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range benchGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			c, until := benchServer(b), time.Now().Add(time.Minute)
			b.ReportAllocs()
			benchParallel(b, n, func(i uint64) error { return rawSetNX(c, i, until) })
		})
	}
}

// BenchmarkClaimVsRaw times a lone claim and the yardstick's SET in
// one loop, alternately, on one server and one client, and reports their
// means (claim-ns/op, raw-ns/op) and ratio (claim/raw). On a shared machine
// the time of a round trip drifts by tens of percent between runs, and
// even between benchmarks of one run; paired this way, both sides see the
// same machine, and the ratio holds steady where the ns/op of separate
// benchmarks do not. (ns/op is that of the pair.)
func BenchmarkClaimVsRaw(b *testing.B) {
	for _, guard := range []bool{true, false} {
		for _, kind := range claimerKinds {
			b.Run(fmt.Sprintf("guard=%v/claimer=%s", guard, kind), func(b *testing.B) {
				c := benchServer(b)
				claim := newClaimer(b, kind, c, guard)
				until := time.Now().Add(time.Minute)
				raw := func(i uint64) error { return rawSetNX(c, i, until) }
				var claimTime, rawTime time.Duration
				b.ResetTimer()
				for i := range uint64(b.N) {
					// Each goes first every other time: the second of a pair
					// may find the machine warmer.
					first, second, firstTime, secondTime := claim, raw, &claimTime, &rawTime
					if i%2 == 1 {
						first, second, firstTime, secondTime = raw, claim, &rawTime, &claimTime
					}
					t0 := time.Now()
					if err := first(i); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if err := second(i); err != nil {
						b.Fatal(err)
					}
					*firstTime += t1.Sub(t0)
					*secondTime += time.Since(t1)
				}
				b.ReportMetric(float64(claimTime.Nanoseconds())/float64(b.N), "claim-ns/op")
				b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
				b.ReportMetric(float64(claimTime)/float64(rawTime), "claim/raw")
			})
		}
	}
}

// BenchmarkClaimParallelVsRaw runs BenchmarkClaimParallel's
// claims and BenchmarkRawSetNX's SETs from the same number of
// concurrent callers in alternating phases on one server and one client,
// and reports each one's time per operation (claim-ns/op, raw-ns/op) and
// the claims' speedup (raw/claim), paired as in BenchmarkClaimVsRaw.
// (ns/op is that of both kinds together.)
func BenchmarkClaimParallelVsRaw(b *testing.B) {
	const phases = 8 // of each kind
	for _, n := range benchGoroutines {
		for _, kind := range claimerKinds {
			b.Run(fmt.Sprintf("goroutines=%d/claimer=%s", n, kind), func(b *testing.B) {
				c := benchServer(b)
				claim := newClaimer(b, kind, c, true)
				until := time.Now().Add(time.Minute)
				raw := func(i uint64) error { return rawSetNX(c, i, until) }
				var seq atomic.Uint64 // one sequence for both: keys never repeat
				// phase runs ops operations of op from n callers.
				phase := func(ops int, op func(uint64) error) time.Duration {
					var left atomic.Int64
					left.Store(int64(ops))
					var wg sync.WaitGroup
					start := time.Now()
					for range n {
						wg.Go(func() {
							for left.Add(-1) >= 0 {
								if err := op(seq.Add(1)); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
					return time.Since(start)
				}
				ops := max(1, b.N/(2*phases))
				var claimTime, rawTime time.Duration
				b.ResetTimer()
				for i := range phases {
					// Each kind goes first every other time, as in
					// BenchmarkClaimVsRaw.
					if i%2 == 0 {
						claimTime += phase(ops, claim)
						rawTime += phase(ops, raw)
					} else {
						rawTime += phase(ops, raw)
						claimTime += phase(ops, claim)
					}
				}
				total := float64(phases * ops)
				b.ReportMetric(float64(claimTime.Nanoseconds())/total, "claim-ns/op")
				b.ReportMetric(float64(rawTime.Nanoseconds())/total, "raw-ns/op")
				b.ReportMetric(float64(rawTime)/float64(claimTime), "raw/claim")
			})
		}
	}
}

// claimerKinds are the ways BenchmarkClaimVsRaw and
// BenchmarkClaimParallelVsRaw claim: through the store, or through
// go-redis's own autopipeliner (see autoPipelineClaim), half or full duplex.
var claimerKinds = []string{"store", "autopipeline", "autopipeline-fd"}

// newClaimer returns a claim of nonce i, by the way kind names, through c,
// with or without the reset guard's GET of the marker.
func newClaimer(b *testing.B, kind string, c *redis.Client, guard bool) func(i uint64) error {
	until := time.Now().Add(time.Minute)
	if kind == "store" {
		s, err := New(c, WithResetGuard(guard))
		if err != nil {
			b.Fatal(err)
		}
		return func(i uint64) error {
			_, err := s.Claim(context.Background(), "user:1:1", strconv.FormatUint(i, 10), until)
			return err
		}
	}
	opts := redis.DefaultAutoPipelineOptions()
	opts.FullDuplex = kind == "autopipeline-fd"
	ap, err := c.AsyncAutoPipelineWithOptions(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ap.Close() })
	marker := DefaultKeyPrefix + "epoch"
	if err := c.Set(context.Background(), marker, time.Now().UnixMilli(), 0).Err(); err != nil {
		b.Fatal(err)
	}
	return func(i uint64) error {
		return autoPipelineClaim(ap, DefaultKeyPrefix+"ap:"+strconv.FormatUint(i, 16), marker, until, guard)
	}
}

// autoPipelineClaim is what a claim of a fresh pair would cost if the store
// handed its commands to go-redis's autopipeliner (AsyncAutoPipeline,
// EXPERIMENTAL in go-redis v9.23) instead of batching them itself: SET NX
// PXAT and, with the guard, GET of the marker, submitted together and
// waited for within DefaultTimeout.
func autoPipelineClaim(ap *redis.AutoPipeliner, key, marker string, until time.Time, guard bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	set := redis.NewStatusCmd(ctx, "set", key, "1", "pxat", until.UnixMilli(), "nx")
	fs := ap.Submit(ctx, set)
	if guard {
		get := redis.NewStringCmd(ctx, "get", marker)
		if err := ap.Submit(ctx, get).WaitContext(ctx); err != nil {
			return err
		}
	}
	return fs.WaitContext(ctx)
}
