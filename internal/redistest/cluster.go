//go:build unix

package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of loopback servers whose slots are spread
// evenly over the masters and whose state is ok.
type Cluster struct {
	// Masters hold all the slots, in equal ranges, in order.
	Masters []*Server
	// Replicas[i] replicates Masters[i%len(Masters)].
	Replicas []*Server
}

// ClusterOption configures StartCluster.
type ClusterOption func(*clusterConfig)

type clusterConfig struct {
	replicas int
}

// WithReplicas gives every master n replicas (default none).
func WithReplicas(n int) ClusterOption {
	return func(c *clusterConfig) { c.replicas = n }
}

// StartCluster starts masters cluster-enabled servers (plus replicas, see
// WithReplicas), assigns every slot, joins the nodes and waits until each
// node reports cluster_state:ok and each replica is in sync. It takes about
// a second. Skips or fails like Start when redis-server is missing.
func StartCluster(t testing.TB, masters int, opts ...ClusterOption) *Cluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("redistest: StartCluster needs at least one master, got %d", masters)
	}
	var cfg clusterConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin := binary(t, "redis-server")
	node := func() *Server {
		return start(t, process{
			bin:   bin,
			lines: []string{"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000"},
			portLines: func(port int) []string {
				return []string{"cluster-port " + strconv.Itoa(port)}
			},
		})
	}
	c := &Cluster{}
	for i := range masters {
		m := node()
		lo, hi := i*clusterSlots/masters, (i+1)*clusterSlots/masters-1
		m.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
		// Distinct config epochs up front, as redis-cli --cluster create
		// does, instead of waiting for collision resolution.
		m.Do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1))
		c.Masters = append(c.Masters, m)
	}
	for range masters * cfg.replicas {
		c.Replicas = append(c.Replicas, node())
	}
	all := c.nodes()
	for _, n := range all[1:] {
		all[0].Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port()), n.busPort())
	}
	waitUntil(t, "every node knows every other", func() bool {
		for _, n := range all {
			if infoField(n.poll("CLUSTER", "INFO"), "cluster_known_nodes") != strconv.Itoa(len(all)) {
				return false
			}
		}
		return true
	})
	for i, r := range c.Replicas {
		r.Do("CLUSTER", "REPLICATE", c.Masters[i%masters].Do("CLUSTER", "MYID"))
	}
	waitUntil(t, "cluster_state:ok on every node with replicas in sync", func() bool {
		for _, n := range all {
			if infoField(n.poll("CLUSTER", "INFO"), "cluster_state") != "ok" {
				return false
			}
		}
		for _, r := range c.Replicas {
			if infoField(r.poll("INFO", "replication"), "master_link_status") != "up" {
				return false
			}
		}
		return true
	})
	return c
}

// nodes lists masters then replicas.
func (c *Cluster) nodes() []*Server {
	return append(append([]*Server(nil), c.Masters...), c.Replicas...)
}

// Addrs lists the "127.0.0.1:port" of every node, masters first: the seed
// list for redis.NewClusterClient.
func (c *Cluster) Addrs() []string {
	var addrs []string
	for _, n := range c.nodes() {
		addrs = append(addrs, n.Addr())
	}
	return addrs
}

// FlushAll empties every master (replicas follow).
func (c *Cluster) FlushAll() {
	for _, m := range c.Masters {
		m.FlushAll()
	}
}

// busPort is the node's cluster bus port, from its own configuration.
func (s *Server) busPort() string {
	for _, l := range s.lines {
		if p, ok := strings.CutPrefix(l, "cluster-port "); ok {
			return p
		}
	}
	panic(fmt.Sprintf("redistest: %s is not a cluster node", s.Addr()))
}

// infoField reads "name:value" from INFO-style text.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
