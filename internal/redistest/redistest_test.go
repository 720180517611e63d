//go:build unix

package redistest

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	var pid int
	var skipped bool
	t.Run("run", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		s := Start(t)
		if s.Port() == 6379 {
			t.Fatal("started on the machine's Redis port")
		}
		if got := s.Do("SET", "k", "v"); got != "OK" {
			t.Fatalf("SET = %q", got)
		}
		if got := s.Do("CONFIG", "GET", "save"); got != "save\n" {
			t.Errorf("CONFIG GET save = %q, want persistence off", got)
		}

		s.Restart()
		if got := s.Do("EXISTS", "k"); got != "0" {
			t.Errorf("EXISTS after Restart = %s, want 0 (data lost)", got)
		}

		s.Pause()
		if _, err := s.command(100*time.Millisecond, "PING"); err == nil {
			t.Error("PING answered while paused")
		}
		s.Resume()
		if got := s.Do("PING"); got != "PONG" {
			t.Errorf("PING after Resume = %q", got)
		}

		s.Do("SET", "k", "v")
		s.FlushAll()
		if got := s.Do("DBSIZE"); got != "0" {
			t.Errorf("DBSIZE after FlushAll = %s", got)
		}

		s.mu.Lock()
		pid = s.proc.Pid
		s.mu.Unlock()
		s.Pause() // cleanup must kill a stopped server too
	})
	switch {
	case skipped:
		return // the subtest said what is missing
	case pid == 0:
		t.Fatal("no server started")
	case alive(pid):
		t.Errorf("redis-server pid %d outlived its test", pid)
	}
}

func TestServerKill(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Kill()
	if _, err := s.command(time.Second, "PING"); err == nil {
		t.Error("PING answered after Kill")
	}
}

func TestStartWithConfig(t *testing.T) {
	t.Parallel()
	s := Start(t, WithConfig("maxmemory 1mb"))
	if got := s.Do("CONFIG", "GET", "maxmemory"); got != "maxmemory\n1048576" {
		t.Errorf("CONFIG GET maxmemory = %q", got)
	}
}

func TestStartCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3, WithReplicas(1))
	if len(c.Masters) != 3 || len(c.Replicas) != 3 || len(c.Addrs()) != 6 {
		t.Fatalf("got %d masters, %d replicas, %d addrs", len(c.Masters), len(c.Replicas), len(c.Addrs()))
	}
	slots := 0
	for _, m := range c.Masters {
		if got := infoField(m.Do("CLUSTER", "INFO"), "cluster_state"); got != "ok" {
			t.Errorf("%s: cluster_state %q", m.Addr(), got)
		}
		n, _ := strconv.Atoi(infoField(m.Do("CLUSTER", "INFO"), "cluster_slots_assigned"))
		slots = n
	}
	if slots != clusterSlots {
		t.Errorf("cluster_slots_assigned = %d, want %d", slots, clusterSlots)
	}
	// A key lands on exactly one master; the others redirect.
	moved := 0
	for _, m := range c.Masters {
		if _, err := m.command(time.Second, "SET", "k", "v"); err != nil && strings.HasPrefix(err.Error(), "MOVED") {
			moved++
		}
	}
	if moved != 2 {
		t.Errorf("%d of 3 masters answered MOVED, want 2", moved)
	}
	c.FlushAll()
}

func TestStartSentinel(t *testing.T) {
	t.Parallel()
	g := StartSentinel(t)
	want := "127.0.0.1\n" + strconv.Itoa(g.Master.Port())
	if got := g.Sentinel.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName); got != want {
		t.Fatalf("master addr = %q, want %q", got, want)
	}
	old := g.Master
	g.Failover()
	if g.Master == old || g.Replica != old {
		t.Error("Failover did not swap Master and Replica")
	}
	if got := infoField(g.Master.Do("INFO", "replication"), "role"); got != "master" {
		t.Errorf("new master role = %q", got)
	}
}

func TestProxyDropsOneReply(t *testing.T) {
	t.Parallel()
	s := Start(t)
	p := NewProxy(t, s.Addr())
	if got, err := command(p.Addr(), time.Second, "PING"); err != nil || got != "PONG" {
		t.Fatalf("PING through the proxy = %q, %v", got, err)
	}
	p.DropReplyAfter([]byte("lost-reply-key"))
	if got, err := command(p.Addr(), time.Second, "SET", "lost-reply-key", "v"); err == nil {
		t.Errorf("SET through an armed proxy answered %q, want a closed connection", got)
	}
	if p.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", p.Dropped())
	}
	// The server ran the command; only its reply was lost. Disarmed now.
	if got, err := command(p.Addr(), time.Second, "GET", "lost-reply-key"); err != nil || got != "v" {
		t.Errorf("GET through the proxy = %q, %v; want v", got, err)
	}
}
