package redisproc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions shapes a Cluster. The zero value is 3 masters without
// replicas and a 1 s node timeout.
type ClusterOptions struct {
	// Masters is the number of masters; zero means 3 (the fewest
	// redis-cli accepts).
	Masters int
	// Replicas is the number of replicas of each master; zero means none.
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before the others mark it failed and its replica takes
	// over. Zero means 1 s; it is rounded down to milliseconds.
	NodeTimeout time.Duration
	// Args are extra redis-server arguments for every node.
	Args []string
}

// Cluster is a Redis Cluster whose nodes this package started.
type Cluster struct {
	// Nodes are every node, masters and replicas, in start order.
	Nodes []*Server

	t    testing.TB
	opts ClusterOptions
}

// StartCluster starts the nodes of a Cluster, joins them with redis-cli
// --cluster create (masters share the 16384 slots evenly) and waits, up to
// a minute, until it is ready: cluster_state:ok on every node, every node
// knows every other with none flagged failing, every slot is served, and
// every replica's link to its master is up. The test fails if it is not;
// t.Cleanup stops every node.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	Gate(t)
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = time.Second
	}
	c := &Cluster{t: t, opts: opts}
	n := opts.Masters * (1 + opts.Replicas)
	for range n {
		s := startNode(t, true, func(port, bus int) []string {
			return append(append(serverArgs(port),
				"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", strconv.FormatInt(opts.NodeTimeout.Milliseconds(), 10),
				// A master pings its replicas every second, not 10: their
				// replication offsets grow, and CLUSTER SLOTS lists a
				// replica only once its offset is not zero.
				"--repl-ping-replica-period", "1"),
				opts.Args...)
		})
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redisproc: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c.WaitReady(time.Minute)
	return c
}

// Addrs returns every node's address, to seed a ClusterClient.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr
	}
	return out
}

// Server returns the node listening on addr, or nil.
func (c *Cluster) Server(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

// Client returns a ClusterClient seeded with every node, configured by
// opts (nil: go-redis defaults with ContextTimeoutEnabled), closed when
// the test ends.
func (c *Cluster) Client(opts *redis.ClusterOptions) *redis.ClusterClient {
	o := redis.ClusterOptions{ContextTimeoutEnabled: true}
	if opts != nil {
		o = *opts
	}
	o.Addrs = c.Addrs()
	cc := redis.NewClusterClient(&o)
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Node is one line of CLUSTER NODES.
type Node struct {
	// ID is the node's ID.
	ID string
	// Addr is its host:port (without the bus port).
	Addr string
	// Flags are its flags: myself, master, slave, fail?, fail, handshake,
	// noaddr, nofailover.
	Flags []string
	// MasterID is the ID of a replica's master; "" for a master.
	MasterID string
	// Connected reports the link state "connected".
	Connected bool
	// Slots are the ranges of slots the node serves, inclusive.
	Slots [][2]int
}

// Has reports whether n has flag.
func (n Node) Has(flag string) bool { return slices.Contains(n.Flags, flag) }

// SlotCount returns how many slots n serves.
func (n Node) SlotCount() int {
	total := 0
	for _, r := range n.Slots {
		total += r[1] - r[0] + 1
	}
	return total
}

// Serves reports whether n serves slot.
func (n Node) Serves(slot int) bool {
	for _, r := range n.Slots {
		if slot >= r[0] && slot <= r[1] {
			return true
		}
	}
	return false
}

// ParseNodes parses the reply of CLUSTER NODES. Importing and migrating
// slot markers ("[5-<-id]") are left out of Slots.
func ParseNodes(text string) []Node {
	var out []Node
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",") // a hostname may follow
		n := Node{ID: f[0], Addr: addr, Flags: strings.Split(f[2], ","), Connected: f[7] == "connected"}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue
			}
			a, b, ok := strings.Cut(r, "-")
			lo, err := strconv.Atoi(a)
			if err != nil {
				continue
			}
			hi := lo
			if ok {
				if hi, err = strconv.Atoi(b); err != nil {
					continue
				}
			}
			n.Slots = append(n.Slots, [2]int{lo, hi})
		}
		out = append(out, n)
	}
	return out
}

// NodesFrom returns the cluster's nodes as the node at addr sees them.
func (c *Cluster) NodesFrom(ctx context.Context, addr string) ([]Node, error) {
	s := c.Server(addr)
	if s == nil {
		return nil, fmt.Errorf("redisproc: no node %s", addr)
	}
	text, err := s.Client().ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	return ParseNodes(text), nil
}

// Topology returns the cluster's nodes as the first live node sees them.
func (c *Cluster) Topology(ctx context.Context) ([]Node, error) {
	var last error = errors.New("redisproc: no live node")
	for _, s := range c.Nodes {
		if !s.Alive() {
			continue
		}
		nodes, err := c.NodesFrom(ctx, s.Addr)
		if err == nil {
			return nodes, nil
		}
		last = err
	}
	return nil, last
}

// Masters returns the masters that serve slots, as the first live node
// sees them, the one with the most slots first.
func (c *Cluster) Masters(ctx context.Context) ([]Node, error) {
	nodes, err := c.Topology(ctx)
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, n := range nodes {
		if n.Has("master") && !n.Has("fail") && n.SlotCount() > 0 {
			out = append(out, n)
		}
	}
	slices.SortStableFunc(out, func(a, b Node) int { return b.SlotCount() - a.SlotCount() })
	return out, nil
}

// ReplicasOf returns the replicas of the master with ID id, as the first
// live node sees them.
func (c *Cluster) ReplicasOf(ctx context.Context, id string) ([]Node, error) {
	nodes, err := c.Topology(ctx)
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, n := range nodes {
		if n.MasterID == id {
			out = append(out, n)
		}
	}
	return out, nil
}

// WaitReady waits until every live node reports cluster_state:ok, knows
// every live node as connected and not failing, sees the configured number
// of masters covering all 16384 slots, every live replica's link to its
// master is up and CLUSTER SLOTS lists it (clients route reads by it); it
// fails the test after timeout. Dead nodes are skipped, so it also waits
// for a cluster to settle after a failover.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	Poll(c.t, timeout, "cluster ready", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var live []*Server
		for _, s := range c.Nodes {
			if s.Alive() {
				live = append(live, s)
			}
		}
		for _, s := range live {
			info, err := s.Client().ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr, err)
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster_state is not ok", s.Addr)
			}
			nodes, err := c.NodesFrom(ctx, s.Addr)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr, err)
			}
			if err := c.consistent(nodes, live); err != nil {
				return fmt.Errorf("%s sees %w", s.Addr, err)
			}
			// CLUSTER SLOTS, what clients route by, lists a replica only
			// once the cluster bus has gossiped a replication offset for
			// it, a moment after its link is up.
			//lint:ignore SA1019 go-redis routes by CLUSTER SLOTS: check what it sees.
			slots, err := s.Client().ClusterSlots(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr, err)
			}
			listed := map[string]bool{}
			for _, r := range slots {
				for _, n := range r.Nodes {
					listed[n.Addr] = true
				}
			}
			for _, n := range nodes {
				if n.Has("slave") && !listed[n.Addr] && slices.ContainsFunc(live, func(l *Server) bool { return l.Addr == n.Addr }) {
					return fmt.Errorf("%s: CLUSTER SLOTS does not list replica %s yet", s.Addr, n.Addr)
				}
			}
			repl, err := s.Info(ctx, "replication")
			if err != nil {
				return fmt.Errorf("%s: %w", s.Addr, err)
			}
			if repl["role"] == "slave" && repl["master_link_status"] != "up" {
				return fmt.Errorf("%s: replica link %q", s.Addr, repl["master_link_status"])
			}
		}
		return nil
	})
}

// consistent checks one node's view against the live nodes.
func (c *Cluster) consistent(nodes []Node, live []*Server) error {
	masters, slots := 0, 0
	seen := map[string]Node{}
	for _, n := range nodes {
		seen[n.Addr] = n
		if n.Has("master") && n.SlotCount() > 0 && !n.Has("fail") {
			masters++
			slots += n.SlotCount()
		}
	}
	for _, s := range live {
		n, ok := seen[s.Addr]
		switch {
		case !ok:
			return fmt.Errorf("no node %s", s.Addr)
		case n.Has("fail?") || n.Has("fail") || n.Has("handshake") || n.Has("noaddr"):
			return fmt.Errorf("%s flagged %v", s.Addr, n.Flags)
		case !n.Has("myself") && !n.Connected:
			return fmt.Errorf("%s disconnected", s.Addr)
		}
	}
	if masters != c.opts.Masters || slots != 16384 {
		return fmt.Errorf("%d masters serving %d slots, want %d serving 16384", masters, slots, c.opts.Masters)
	}
	return nil
}

// KeySlot returns the Cluster hash slot of key (CRC16 of its hash tag, or
// of the whole key, modulo 16384), as CLUSTER KEYSLOT does.
func KeySlot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
