//go:build unix

package redisstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/amojwt/amojwt/internal/redistest"
	"github.com/amojwt/amojwt/noncestore"
	"github.com/redis/go-redis/v9"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	type want struct {
		kind                   string // standalone, failover or cluster
		addrs                  []string
		db                     int
		user, pass             string
		sentinelUser, sentPass string
		master                 string
		tls                    bool
		dialTimeout            time.Duration
	}
	tests := []struct {
		name string
		url  string
		want want
	}{
		{"standalone", "redis://127.0.0.1:6380/2",
			want{kind: "standalone", addrs: []string{"127.0.0.1:6380"}, db: 2}},
		{"standalone, credentials, options", "redis://amo:s3cr%40t@redis.internal:6379/0?dial_timeout=2s",
			want{kind: "standalone", addrs: []string{"redis.internal:6379"}, user: "amo", pass: "s3cr@t", dialTimeout: 2 * time.Second}},
		{"standalone, TLS", "rediss://:pw@redis.example:6380",
			want{kind: "standalone", addrs: []string{"redis.example:6380"}, pass: "pw", tls: true}},
		{"unix socket", "unix:///run/redis.sock?db=3",
			want{kind: "standalone", addrs: []string{"/run/redis.sock"}, db: 3}},
		{"sentinel", "redis+sentinel://s1:26379,s2:26379,[::1]:26379/mymaster/1",
			want{kind: "failover", addrs: []string{"s1:26379", "s2:26379", "[::1]:26379"}, db: 1, master: "mymaster"}},
		{"sentinel, both credentials, TLS", "rediss+sentinel://app:pw@s1:26379/mymaster?sentinel_username=sen&sentinel_password=spw",
			want{kind: "failover", addrs: []string{"s1:26379"}, master: "mymaster", user: "app", pass: "pw", sentinelUser: "sen", sentPass: "spw", tls: true}},
		{"cluster", "redis+cluster://n1:7000,n2:7001,n3:7002",
			want{kind: "cluster", addrs: []string{"n1:7000", "n2:7001", "n3:7002"}}},
		{"cluster, credentials, TLS", "rediss+cluster://u:pw@n1:7000?dial_timeout=1s",
			want{kind: "cluster", addrs: []string{"n1:7000"}, user: "u", pass: "pw", tls: true, dialTimeout: time.Second}},
		{"scheme in capitals", "REDIS+CLUSTER://n1:7000",
			want{kind: "cluster", addrs: []string{"n1:7000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseRedisURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			var got want
			switch {
			case o.standalone != nil:
				s := o.standalone
				got = want{kind: "standalone", addrs: []string{s.Addr}, db: s.DB, user: s.Username, pass: s.Password,
					tls: s.TLSConfig != nil, dialTimeout: s.DialTimeout}
			case o.failover != nil:
				f := o.failover
				got = want{kind: "failover", addrs: f.SentinelAddrs, db: f.DB, user: f.Username, pass: f.Password,
					sentinelUser: f.SentinelUsername, sentPass: f.SentinelPassword, master: f.MasterName,
					tls: f.TLSConfig != nil, dialTimeout: f.DialTimeout}
			case o.cluster != nil:
				c := o.cluster
				got = want{kind: "cluster", addrs: c.Addrs, user: c.Username, pass: c.Password,
					tls: c.TLSConfig != nil, dialTimeout: c.DialTimeout}
			}
			// go-redis fills in a default dial timeout; compare only ours.
			if tt.want.dialTimeout == 0 {
				got.dialTimeout = 0
			}
			if strings.Join(got.addrs, ",") != strings.Join(tt.want.addrs, ",") {
				t.Errorf("addrs %q, want %q", got.addrs, tt.want.addrs)
			}
			got.addrs, tt.want.addrs = nil, nil
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRedisURLErrors(t *testing.T) {
	t.Parallel()
	const secret = "Sup3rS3cret"
	tests := []struct{ name, url string }{
		{"no scheme", "127.0.0.1:6379"},
		{"unknown scheme", "memcache://u:" + secret + "@h:1"},
		{"unix with a host list", "unix+cluster://u:" + secret + "@/s"},
		{"bad port", "redis://u:" + secret + "@h:port/0"},
		{"unescaped slash in the password", "redis://u:pa/" + secret + "@h:1/0"},
		{"bad database", "redis://u:" + secret + "@h:1/" + secret},
		{"unknown option", "redis://u:" + secret + "@h:1/0?" + secret + "=1"},
		{"bad option value", "redis://u:" + secret + "@h:1/0?dial_timeout=" + secret},
		{"host list without a mode", "redis://u:" + secret + "@h1:1,h2:2"},
		{"bad host in the list", "redis+cluster://u:" + secret + "@h1:1,nope"},
		{"sentinel without a master name", "redis+sentinel://u:" + secret + "@s1:26379"},
		{"sentinel, too deep a path", "redis+sentinel://s1:26379/m/0/x?password=" + secret},
		{"sentinel, bad database", "redis+sentinel://s1:26379/m/x?sentinel_password=" + secret},
		{"cluster with a database", "redis+cluster://u:" + secret + "@n1:1/3"},
		{"cluster, unknown option", "redis+cluster://u:" + secret + "@n1:1?x" + secret + "=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseRedisURL(tt.url)
			if err == nil {
				t.Fatalf("parseRedisURL(%q) = %+v, want an error", tt.url, o)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if _, err := NewClient(tt.url); err == nil {
				t.Error("NewClient accepted it")
			}
		})
	}
}

// TestNewRedisClient connects through each URL form to real servers.
func TestNewRedisClient(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithConfig("requirepass s3cret"))
	sentinel := redistest.StartSentinel(t)
	cluster := redistest.StartCluster(t, 3)
	tests := []struct {
		name, url string
		kind      any
	}{
		{"standalone", "redis://:s3cret@" + srv.Addr() + "/1", &redis.Client{}},
		{"sentinel", "redis+sentinel://" + sentinel.Addr() + ",127.0.0.1:1/" + redistest.MasterName, &redis.Client{}},
		{"cluster", "redis+cluster://" + strings.Join(cluster.Addrs(), ","), &redis.ClusterClient{}},
	}
	t.Run("forms", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				client, err := NewClient(tt.url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { client.Close() })
				if got, want := fmt.Sprintf("%T", client), fmt.Sprintf("%T", tt.kind); got != want {
					t.Errorf("client is a %s, want %s", got, want)
				}
				s := newTestStore(t, client)
				if s.async {
					t.Error("client built without ContextTimeoutEnabled")
				}
				if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); err != nil {
					t.Fatalf("claim = %v", err)
				}
				if _, err := s.Claim(t.Context(), "user:1:1", "n", inAMinute()); !errors.Is(err, noncestore.ErrReplayed) {
					t.Errorf("replay = %v, want noncestore.ErrReplayed", err)
				}
				if _, err := s.Ping(t.Context()); err != nil {
					t.Errorf("Ping = %v", err)
				}
			})
		}
	})
	t.Run("standalone database", func(t *testing.T) {
		// The claim went to database 1, as the URL said: a key and the marker.
		for db, want := range []int64{0, 2} {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "s3cret", DB: db})
			defer c.Close()
			if n, err := c.DBSize(t.Context()).Result(); err != nil || n != want {
				t.Errorf("DBSIZE of database %d = %d, %v; want %d", db, n, err, want)
			}
		}
	})
}
