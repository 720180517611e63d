//go:build unix

package redistest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterName is the name the Sentinel started by StartSentinel monitors.
const MasterName = "mymaster"

// Sentinel is one master, one replica in sync with it, and one Sentinel
// monitoring them under MasterName (quorum 1).
type Sentinel struct {
	Master   *Server
	Replica  *Server
	Sentinel *Server
}

// StartSentinel starts a master, a replica and a Sentinel, and waits until
// the replica is in sync and the Sentinel knows both. It runs redis-sentinel
// when installed, else redis-server --sentinel (the same program), so it
// skips or fails exactly like Start.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	g := &Sentinel{Master: Start(t)}
	g.Replica = Start(t, WithConfig("replicaof 127.0.0.1 "+strconv.Itoa(g.Master.Port())))
	waitUntil(t, "replica in sync", func() bool {
		return infoField(g.Replica.poll("INFO", "replication"), "master_link_status") == "up"
	})

	p := process{bin: "redis-sentinel", lines: []string{
		"sentinel monitor " + MasterName + " 127.0.0.1 " + strconv.Itoa(g.Master.Port()) + " 1",
		"sentinel down-after-milliseconds " + MasterName + " 1000",
		"sentinel failover-timeout " + MasterName + " 5000",
	}}
	if bin, err := exec.LookPath(p.bin); err == nil {
		p.bin = bin
	} else {
		p.bin, p.args = binary(t, "redis-server"), []string{"--sentinel"}
	}
	g.Sentinel = start(t, p)
	// SENTINEL REPLICAS is a flat field/value list per replica; with one
	// replica, the first "flags" and "master-link-status" are its own.
	waitUntil(t, "sentinel connected to the replica", func() bool {
		r := g.Sentinel.poll("SENTINEL", "REPLICAS", MasterName)
		return strings.Contains(r, "\nport\n"+strconv.Itoa(g.Replica.Port())+"\n") &&
			strings.Contains(r, "\nflags\nslave\n") &&
			strings.Contains(r, "\nmaster-link-status\nok\n")
	})
	return g
}

// Addr is the Sentinel's "127.0.0.1:port": the SentinelAddrs entry for
// redis.NewFailoverClient.
func (g *Sentinel) Addr() string { return g.Sentinel.Addr() }

// Failover makes the Sentinel promote the replica (SENTINEL FAILOVER) and
// waits until it reports the replica as master; then Master and Replica are
// swapped, so Master is the new master. A failover that the Sentinel
// aborts (on a busy machine it may find the replica's state too old) is
// asked for again.
func (g *Sentinel) Failover() {
	g.Sentinel.t.Helper()
	g.Sentinel.Do("SENTINEL", "FAILOVER", MasterName)
	want := "127.0.0.1\n" + strconv.Itoa(g.Replica.Port())
	waitUntil(g.Sentinel.t, "failover to the replica", func() bool {
		if g.Sentinel.poll("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName) == want {
			return infoField(g.Replica.poll("INFO", "replication"), "role") == "master"
		}
		flags := listField(g.Sentinel.poll("SENTINEL", "MASTER", MasterName), "flags")
		if flags != "" && !strings.Contains(flags, "failover_in_progress") {
			g.Sentinel.poll("SENTINEL", "FAILOVER", MasterName)
		}
		return false
	})
	g.Master, g.Replica = g.Replica, g.Master
}

// listField reads the value after name in a flattened field/value reply.
func listField(reply, name string) string {
	lines := strings.Split(reply, "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		if lines[i] == name {
			return lines[i+1]
		}
	}
	return ""
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: not ready after %v: waiting for %s", startTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
