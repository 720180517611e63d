//go:build unix

package redisstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/amojwt/amojwt/noncestore/storetest"
	"github.com/amojwt/amojwt/redisstore"
)

// conformanceSlack is how long after until Redis may still hold a key: it
// keeps PXAT in milliseconds and expires a key once its clock is past it.
const conformanceSlack = 50 * time.Millisecond

// newConformanceStore returns a store through client with a short timeout,
// so that the fail-closed check does not wait long, and the reset guard on.
func newConformanceStore(t *testing.T, client redis.UniversalClient, opts ...redisstore.Option) noncestore.Store {
	t.Helper()
	s, err := redisstore.New(client, append([]redisstore.Option{redisstore.WithTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformanceStandalone runs the conformance suite on stores each on a
// redis-server of its own: Break kills it, Reset flushes it.
func TestConformanceStandalone(t *testing.T) {
	t.Parallel()
	var servers sync.Map // noncestore.Store -> *redistest.Server
	server := func(s noncestore.Store) *redistest.Server {
		srv, _ := servers.Load(s)
		return srv.(*redistest.Server)
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, _ *storetest.Clock) noncestore.Store {
			srv := redistest.Start(t)
			client, err := redisstore.NewClient("redis://" + srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			s := newConformanceStore(t, client)
			servers.Store(s, srv)
			return s
		},
		RealTime: true,
		Slack:    conformanceSlack,
		Break:    func(_ *testing.T, s noncestore.Store) { server(s).Kill() },
		Reset: func(_ *testing.T, s noncestore.Store, _ *storetest.Clock) noncestore.Store {
			server(s).FlushAll()
			return s
		},
	})
}

// TestConformanceCluster runs the conformance suite on stores sharing one
// Redis Cluster of three masters, each store with a key prefix of its own
// (so neither Break nor Reset, which would reach the others).
func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, _ *storetest.Clock) noncestore.Store {
			return newConformanceStore(t, client, redisstore.WithKeyPrefix("conformance:"+t.Name()+":"))
		},
		RealTime: true,
		Slack:    conformanceSlack,
	})
}
