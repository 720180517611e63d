//go:build unix

package noncestore

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
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
//
//	go test -run XXX -bench Redis -benchmem ./noncestore/

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

func BenchmarkRedisClaim(b *testing.B) {
	for _, guard := range []bool{true, false} {
		b.Run(fmt.Sprintf("guard=%v", guard), func(b *testing.B) {
			s, err := NewRedis(benchServer(b), WithRedisResetGuard(guard))
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

func BenchmarkRedisClaimParallel(b *testing.B) {
	for _, n := range benchGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			s, err := NewRedis(benchServer(b))
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

// BenchmarkRedisRawSetNX is the yardstick: go-redis's SET key 1 NX PXAT, one
// command per call, no batching.
func BenchmarkRedisRawSetNX(b *testing.B) {
	setNX := func(c *redis.Client, i uint64, until time.Time) error {
		return c.SetArgs(context.Background(), DefaultRedisKeyPrefix+strconv.FormatUint(i, 16), "1",
			redis.SetArgs{Mode: "NX", ExpireAt: until}).Err()
	}
	b.Run("sequential", func(b *testing.B) {
		c, until := benchServer(b), time.Now().Add(time.Minute)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := setNX(c, uint64(i), until); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range benchGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			c, until := benchServer(b), time.Now().Add(time.Minute)
			b.ReportAllocs()
			benchParallel(b, n, func(i uint64) error { return setNX(c, i, until) })
		})
	}
}
