package redisproc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelOptions shapes a Sentinel topology. The zero value is master
// "mymaster", down after 1 s, failover timeout 5 s.
type SentinelOptions struct {
	// MasterName is the name the sentinels monitor the master as; empty
	// means "mymaster".
	MasterName string
	// DownAfter is down-after-milliseconds: how long the master may not
	// answer before a sentinel thinks it down. Zero means 1 s.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout. Zero means 5 s.
	FailoverTimeout time.Duration
	// Args are extra redis-server arguments for the master and the
	// replica.
	Args []string
}

// Sentinel is a master, its replica and three sentinels (quorum 2) that
// this package started.
type Sentinel struct {
	// Master is the server started as the master; after a failover it may
	// be dead, or a replica.
	Master *Server
	// Replica is the server started as its replica.
	Replica *Server
	// Sentinels are the three sentinels.
	Sentinels []*Server
	// MasterName is the name the sentinels know the master by.
	MasterName string

	t testing.TB
}

// StartSentinel starts a master, a replica of it and three sentinels that
// monitor it with quorum 2, and waits, up to a minute, until the replica's
// link is up and every sentinel names that master and sees the replica and
// the two other sentinels. The test fails if that does not happen;
// t.Cleanup stops every process, the sentinels first.
func StartSentinel(t testing.TB, opts SentinelOptions) *Sentinel {
	t.Helper()
	Gate(t)
	if opts.MasterName == "" {
		opts.MasterName = "mymaster"
	}
	if opts.DownAfter == 0 {
		opts.DownAfter = time.Second
	}
	if opts.FailoverTimeout == 0 {
		opts.FailoverTimeout = 5 * time.Second
	}
	st := &Sentinel{MasterName: opts.MasterName, t: t}
	st.Master = startNode(t, false, func(port, _ int) []string { return append(serverArgs(port), opts.Args...) })
	st.Replica = startNode(t, false, func(port, _ int) []string {
		return append(append(serverArgs(port), "--replicaof", "127.0.0.1", strconv.Itoa(st.Master.Port)), opts.Args...)
	})
	for range 3 {
		s := startNode(t, false, func(port, _ int) []string {
			// A sentinel rewrites its config file, so it must have one.
			dir := filepath.Join(t.TempDir(), "sentinel-"+strconv.Itoa(port))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "sentinel.conf")
			text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n"+
				"sentinel monitor %s 127.0.0.1 %d 2\n"+
				"sentinel down-after-milliseconds %[2]s %[4]d\n"+
				"sentinel failover-timeout %[2]s %[5]d\n"+
				"sentinel parallel-syncs %[2]s 1\n",
				port, opts.MasterName, st.Master.Port, opts.DownAfter.Milliseconds(), opts.FailoverTimeout.Milliseconds())
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{conf, "--sentinel", "--logfile", "redis.log"}
		})
		st.Sentinels = append(st.Sentinels, s)
	}
	Poll(t, time.Minute, "sentinel topology ready", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		repl, err := st.Replica.Info(ctx, "replication")
		if err != nil {
			return err
		}
		if repl["master_link_status"] != "up" {
			return fmt.Errorf("replica link %q", repl["master_link_status"])
		}
		for _, s := range st.Sentinels {
			sc := sentinelClient(s.Addr)
			m, err := sc.Master(ctx, opts.MasterName).Result()
			_ = sc.Close()
			if err != nil {
				return fmt.Errorf("sentinel %s: %w", s.Addr, err)
			}
			if m["port"] != strconv.Itoa(st.Master.Port) || m["flags"] != "master" ||
				m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s sees port %s flags %s, %s replicas, %s other sentinels",
					s.Addr, m["port"], m["flags"], m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	return st
}

// sentinelClient returns a Sentinel client on addr; the caller closes it.
func sentinelClient(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, MaxRetries: -1})
}

// Addrs returns the sentinels' addresses.
func (st *Sentinel) Addrs() []string {
	out := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		out[i] = s.Addr
	}
	return out
}

// MasterAddr returns the master's address as the first sentinel that
// answers names it.
func (st *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range st.Sentinels {
		if !s.Alive() {
			continue
		}
		sc := sentinelClient(s.Addr)
		a, err := sc.GetMasterAddrByName(ctx, st.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(a) == 2 {
			return a[0] + ":" + a[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("redisproc: no sentinel names master %s: %v", st.MasterName, last)
}

// Client returns a Sentinel failover client for the master, configured by
// opts (nil: go-redis defaults with ContextTimeoutEnabled), closed when
// the test ends.
func (st *Sentinel) Client(opts *redis.FailoverOptions) *redis.Client {
	o := redis.FailoverOptions{ContextTimeoutEnabled: true}
	if opts != nil {
		o = *opts
	}
	o.MasterName, o.SentinelAddrs = st.MasterName, st.Addrs()
	c := redis.NewFailoverClient(&o)
	st.t.Cleanup(func() { _ = c.Close() })
	return c
}
