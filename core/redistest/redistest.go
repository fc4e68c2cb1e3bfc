// Package redistest gives each test a Redis server and a key prefix of its
// own, so that the same test runs on an embedded miniredis, on a real Redis
// server or on a real Redis Cluster, chosen by environment variables:
//
//   - REDISWARE_CLUSTER_ADDRS set (comma-separated host:port list): a Cluster;
//   - else REDISWARE_SENTINEL_ADDRS set (comma-separated host:port list of
//     sentinels; the master's name in REDISWARE_SENTINEL_MASTER, default
//     "mymaster"): the master that Sentinel names, followed through
//     failovers;
//   - else REDISWARE_REDIS_ADDR set (host:port, or a redis:// or rediss:// URL):
//     a single Redis server;
//   - else neither: a fresh miniredis started for the test and closed at its end.
//
// Keys written under Server.Prefix are deleted when the test ends, on a real
// server with SCAN (never KEYS) on every master. A configured server that
// does not answer fails the test; it is never skipped silently.
//
// The package is meant for redisware's own tests and for the tests of
// redisware's users alike:
//
//	func TestCounter(t *testing.T) {
//		srv := redistest.New(t)
//		rdb := srv.Client()
//		n, err := rdb.Incr(t.Context(), srv.Key("hits")).Result()
//		...
//	}
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvRedisAddr names the environment variable that selects a single real
// Redis server: a host:port, or a redis:// or rediss:// URL (which may carry
// a user, a password and a database number).
const EnvRedisAddr = "REDISWARE_REDIS_ADDR"

// EnvClusterAddrs names the environment variable that selects a real Redis
// Cluster: a comma-separated list of host:port seed nodes. It takes
// precedence over EnvRedisAddr; setting both fails the test.
const EnvClusterAddrs = "REDISWARE_CLUSTER_ADDRS"

// EnvSentinelAddrs names the environment variable that selects a master
// monitored by Redis Sentinel: a comma-separated list of the sentinels'
// host:port. The master's name is in EnvSentinelMaster.
const EnvSentinelAddrs = "REDISWARE_SENTINEL_ADDRS"

// EnvSentinelMaster names the environment variable that holds the name of
// the master the sentinels of EnvSentinelAddrs monitor; empty means
// DefaultSentinelMaster.
const EnvSentinelMaster = "REDISWARE_SENTINEL_MASTER"

// DefaultSentinelMaster is the master name used when EnvSentinelMaster is
// empty.
const DefaultSentinelMaster = "mymaster"

// Topology names the kind of Redis a Server stands for.
type Topology string

const (
	// Miniredis is an embedded github.com/alicebob/miniredis/v2 server,
	// started for one test and closed at its end.
	Miniredis Topology = "miniredis"
	// Single is one real Redis server, named by EnvRedisAddr.
	Single Topology = "redis"
	// Cluster is a real Redis Cluster, named by EnvClusterAddrs.
	Cluster Topology = "cluster"
	// Sentinel is a real Redis master found through the sentinels named by
	// EnvSentinelAddrs; clients follow it through failovers.
	Sentinel Topology = "sentinel"
)

// pingTimeout bounds the check that a configured server answers.
const pingTimeout = 2 * time.Second

// cleanupTimeout bounds the deletion of a test's keys at its end.
const cleanupTimeout = 30 * time.Second

// maxNameLen is the longest part of a test name kept in a prefix.
const maxNameLen = 40

// Server is the Redis one test runs against, with a key prefix of its own.
// Use New to get one; the zero value is invalid.
type Server struct {
	// Topology says which kind of Redis this is.
	Topology Topology

	// Prefix is unique to one call of New:
	// "rwtest:<sanitised test name, at most 40 bytes>:<16 random hex digits>:".
	// It holds only the bytes [a-z0-9_:-], so Prefix+"*" is a safe SCAN
	// MATCH pattern. Keys under it are deleted when the test ends.
	Prefix string

	tb     testing.TB
	mini   *miniredis.Miniredis // Miniredis topology only
	env    string               // the variable that chose a real server
	value  string               // its value, for messages
	addrs  []string             // Cluster: seed nodes; Sentinel: sentinels
	master string               // Sentinel: the master's name
	opt    *redis.Options       // Single: template, copied for each client
}

// New returns a Server for the test t, chosen from the environment (see the
// package documentation). It fails t at once if more than one of
// EnvClusterAddrs, EnvSentinelAddrs and EnvRedisAddr is set, if a value cannot be parsed, or if the configured
// server does not answer PING within 2 seconds. Everything New and
// Server.Client create is closed, and every key under Prefix deleted, by
// t.Cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := newServer(t, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newServer is New with the environment passed in, so tests can exercise
// the selection and the failure messages.
func newServer(t testing.TB, getenv func(string) string) (*Server, error) {
	t.Helper()
	s := &Server{tb: t, Prefix: newPrefix(t.Name())}
	cluster := strings.TrimSpace(getenv(EnvClusterAddrs))
	sentinel := strings.TrimSpace(getenv(EnvSentinelAddrs))
	single := strings.TrimSpace(getenv(EnvRedisAddr))
	var set []string
	for _, e := range []struct{ name, value string }{{EnvClusterAddrs, cluster}, {EnvSentinelAddrs, sentinel}, {EnvRedisAddr, single}} {
		if e.value != "" {
			set = append(set, e.name)
		}
	}
	switch {
	case len(set) > 1:
		return nil, fmt.Errorf("redistest: %s are set; set only one of them", strings.Join(set, " and "))
	case cluster != "":
		s.Topology, s.env, s.value = Cluster, EnvClusterAddrs, cluster
		s.addrs = splitAddrs(cluster)
	case sentinel != "":
		s.Topology, s.env, s.value = Sentinel, EnvSentinelAddrs, sentinel
		s.addrs = splitAddrs(sentinel)
		s.master = strings.TrimSpace(getenv(EnvSentinelMaster))
		if s.master == "" {
			s.master = DefaultSentinelMaster
		}
	case single != "":
		s.Topology, s.env, s.value = Single, EnvRedisAddr, single
		opt, err := singleOptions(single)
		if err != nil {
			return nil, err
		}
		s.opt = opt
	default:
		s.Topology = Miniredis
		s.mini = miniredis.RunT(t)
		return s, nil
	}

	// admin pings the server now and deletes the test's keys at the end.
	// Its cleanup is registered first, so it runs after those of every
	// client the test asks for.
	admin := s.newClient()
	t.Cleanup(func() { _ = admin.Close() })
	if err := s.ping(admin); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deleteKeys(ctx, admin, s.Prefix); err != nil {
			t.Errorf("redistest: deleting keys %s* at %s=%s: %v", s.Prefix, s.env, s.value, err)
		}
	})
	return s, nil
}

// ping checks that every master answers within pingTimeout.
func (s *Server) ping(c redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	fail := func(err error) error {
		return fmt.Errorf("redistest: %s=%s: Redis did not answer PING within %s: %w", s.env, s.value, pingTimeout, err)
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		if err := c.Ping(ctx).Err(); err != nil {
			return fail(err)
		}
		return nil
	}
	var masters atomic.Int32
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		masters.Add(1)
		return node.Ping(ctx).Err()
	})
	if err != nil {
		return fail(err)
	}
	if masters.Load() == 0 {
		return fail(fmt.Errorf("the cluster has no master serving slots (was it created?)"))
	}
	return nil
}

func splitAddrs(list string) []string {
	var out []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// singleOptions parses the value of EnvRedisAddr: a redis:// or rediss://
// URL, or a host:port.
func singleOptions(value string) (*redis.Options, error) {
	if !strings.Contains(value, "://") {
		return &redis.Options{Addr: value}, nil
	}
	opt, err := redis.ParseURL(value)
	if err != nil {
		return nil, fmt.Errorf("redistest: %s=%s: %w", EnvRedisAddr, value, err)
	}
	return opt, nil
}

// newClient builds a client with its own pool and the package's timeouts.
func (s *Server) newClient() redis.UniversalClient {
	switch s.Topology {
	case Cluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 s.addrs,
			ContextTimeoutEnabled: true,
			DialTimeout:           2 * time.Second,
			ReadTimeout:           2 * time.Second,
			WriteTimeout:          2 * time.Second,
		})
	case Sentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            s.master,
			SentinelAddrs:         s.addrs,
			ContextTimeoutEnabled: true,
			DialTimeout:           2 * time.Second,
			ReadTimeout:           2 * time.Second,
			WriteTimeout:          2 * time.Second,
		})
	case Single:
		opt := *s.opt // NewClient fills in defaults; keep the template clean
		opt.ContextTimeoutEnabled = true
		opt.DialTimeout = 2 * time.Second
		opt.ReadTimeout = 2 * time.Second
		opt.WriteTimeout = 2 * time.Second
		return redis.NewClient(&opt)
	default:
		return redis.NewClient(&redis.Options{
			Addr:                  s.mini.Addr(),
			ContextTimeoutEnabled: true,
			DialTimeout:           2 * time.Second,
			ReadTimeout:           2 * time.Second,
			WriteTimeout:          2 * time.Second,
		})
	}
}

// Client returns a new client on the server, with a connection pool of its
// own: call it several times to stand for several instances of an app. It
// is a *redis.ClusterClient over all the configured nodes on a Cluster, a
// Sentinel failover *redis.Client on Sentinel, and a *redis.Client
// otherwise, with ContextTimeoutEnabled set and dial, read and
// write timeouts of 2 seconds. It is closed by the test's cleanup.
func (s *Server) Client() redis.UniversalClient {
	c := s.newClient()
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Miniredis returns the embedded server of the Miniredis topology, or nil
// on a real Redis or Cluster. A test that needs a miniredis-only feature,
// such as FastForward, skips with t.Skip when it is nil.
func (s *Server) Miniredis() *miniredis.Miniredis {
	return s.mini
}

// Key returns s.Prefix + name.
func (s *Server) Key(name string) string {
	return s.Prefix + name
}

// newPrefix returns "rwtest:<sanitised name>:<16 random hex digits>:".
func newPrefix(testName string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return "rwtest:" + sanitise(testName) + ":" + hex.EncodeToString(b[:]) + ":"
}

// sanitise lower-cases name, replaces every byte outside [a-z0-9_-] by "_"
// and keeps at most maxNameLen bytes, so the result is safe in a SCAN MATCH
// pattern and cannot add a ":" level of its own.
func sanitise(name string) string {
	name = strings.ToLower(name)
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "test"
	}
	return string(b)
}
