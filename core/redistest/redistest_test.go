package redistest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var prefixPattern = regexp.MustCompile(`^rwtest:[a-z0-9_-]{1,40}:[0-9a-f]{16}:$`)

func TestRoundTrip(t *testing.T) {
	s := New(t)
	t.Logf("topology %s, prefix %s", s.Topology, s.Prefix)
	rdb := s.Client()
	ctx := t.Context()
	key := s.Key("greeting")
	if !strings.HasPrefix(key, s.Prefix) || !strings.HasSuffix(key, "greeting") {
		t.Fatalf("Key(greeting) = %q, want %q + greeting", key, s.Prefix)
	}
	if err := rdb.Set(ctx, key, "hello", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := rdb.Get(ctx, key).Result()
	if err != nil || got != "hello" {
		t.Fatalf("GET = %q, %v; want hello, nil", got, err)
	}
}

func TestTopologyMatchesMiniredis(t *testing.T) {
	s := New(t)
	if (s.Topology == Miniredis) != (s.Miniredis() != nil) {
		t.Fatalf("Topology %s but Miniredis() = %v", s.Topology, s.Miniredis())
	}
	_, isCluster := s.Client().(*redis.ClusterClient)
	if isCluster != (s.Topology == Cluster) {
		t.Fatalf("Topology %s but Client() is %T", s.Topology, s.Client())
	}
}

func TestClientsAreIndependent(t *testing.T) {
	s := New(t)
	ctx := t.Context()
	a, b := s.Client(), s.Client()
	if a == b {
		t.Fatal("Client returned the same client twice")
	}
	if err := a.Set(ctx, s.Key("shared"), "from-a", time.Minute).Err(); err != nil {
		t.Fatalf("SET via a: %v", err)
	}
	if got, err := b.Get(ctx, s.Key("shared")).Result(); err != nil || got != "from-a" {
		t.Fatalf("GET via b = %q, %v; want from-a, nil", got, err)
	}
	// Closing one must leave the other working: each has its own pool.
	if err := a.Close(); err != nil {
		t.Fatalf("Close a: %v", err)
	}
	if err := b.Set(ctx, s.Key("shared"), "from-b", time.Minute).Err(); err != nil {
		t.Fatalf("SET via b after closing a: %v", err)
	}
	if got, err := s.Client().Get(ctx, s.Key("shared")).Result(); err != nil || got != "from-b" {
		t.Fatalf("GET via a third client = %q, %v; want from-b, nil", got, err)
	}
}

func TestPrefixIsUniqueAndSafe(t *testing.T) {
	a, b := New(t), New(t)
	if a.Prefix == b.Prefix {
		t.Fatalf("two New calls share the prefix %q", a.Prefix)
	}
	for _, p := range []string{a.Prefix, b.Prefix} {
		if !prefixPattern.MatchString(p) {
			t.Errorf("prefix %q does not match %s", p, prefixPattern)
		}
	}
}

func TestSanitise(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TestFoo", "testfoo"},
		{"TestFoo/sub_case#01", "testfoo_sub_case_01"},
		{"Test{tag}*?[x]\\:", "test_tag____x___"},
		{"", "test"},
		{"TestÜber", "test__ber"},
		{strings.Repeat("a", 60), strings.Repeat("a", 40)},
	} {
		if got := sanitise(tc.in); got != tc.want {
			t.Errorf("sanitise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanupDeletesPrefixedKeys(t *testing.T) {
	outer := New(t)
	var inner *Server
	var keys []string
	t.Run("writer", func(t *testing.T) {
		if m := outer.Miniredis(); m != nil {
			// A miniredis of its own would be closed, not cleaned: treat
			// the outer one as a real server, so the SCAN cleanup runs.
			var err error
			inner, err = newServer(t, func(k string) string {
				if k == EnvRedisAddr {
					return m.Addr()
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
		} else {
			inner = New(t)
		}
		keys = writeKeys(t, inner, 600) // more than one SCAN page
	})
	if inner == nil {
		t.Fatal("subtest did not run")
	}
	// A key of the outer test must survive the inner cleanup.
	rdb := outer.Client()
	ctx := t.Context()
	if err := rdb.Set(ctx, outer.Key("survivor"), "1", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	for _, k := range keys {
		n, err := rdb.Exists(ctx, k).Result()
		if err != nil {
			t.Fatalf("EXISTS %s: %v", k, err)
		}
		if n != 0 {
			t.Fatalf("key %s survived the cleanup of its test", k)
		}
	}
	if n, err := rdb.Exists(ctx, outer.Key("survivor")).Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS survivor = %d, %v; want 1, nil", n, err)
	}
}

func TestDeleteKeys(t *testing.T) {
	s := New(t)
	keys := writeKeys(t, s, 600)
	other := s.Prefix[:len(s.Prefix)-1] + "x:kept" // shares all but the last byte of the prefix
	rdb := s.Client()
	ctx := t.Context()
	if err := rdb.Set(ctx, other, "1", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	t.Cleanup(func() { _ = s.Client().Del(context.Background(), other).Err() })

	if err := deleteKeys(ctx, rdb, s.Prefix); err != nil {
		t.Fatalf("deleteKeys: %v", err)
	}
	for _, k := range keys {
		if n, err := rdb.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Fatalf("EXISTS %s = %d, %v; want 0, nil", k, n, err)
		}
	}
	if n, err := rdb.Exists(ctx, other).Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS %s = %d, %v; want 1, nil", other, n, err)
	}
}

// writeKeys writes n keys under s.Prefix, spread over many Cluster slots.
func writeKeys(t *testing.T, s *Server, n int) []string {
	t.Helper()
	rdb := s.Client()
	ctx := t.Context()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = s.Key(fmt.Sprintf("k%d", i))
	}
	// One SET per key: on a Cluster the pipeline splits them by slot.
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, "v", time.Minute)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("writing %d keys: %v", n, err)
	}
	return keys
}

func TestEnvSelection(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	t.Run("neither", func(t *testing.T) {
		s, err := newServer(t, env(nil))
		if err != nil || s.Topology != Miniredis || s.Miniredis() == nil {
			t.Fatalf("newServer = %+v, %v; want a miniredis", s, err)
		}
	})
	t.Run("both", func(t *testing.T) {
		_, err := newServer(t, env(map[string]string{EnvRedisAddr: "127.0.0.1:1", EnvClusterAddrs: "127.0.0.1:2"}))
		if err == nil || !strings.Contains(err.Error(), EnvRedisAddr) || !strings.Contains(err.Error(), EnvClusterAddrs) {
			t.Fatalf("err = %v; want one naming both variables", err)
		}
	})
	t.Run("sentinel and cluster", func(t *testing.T) {
		_, err := newServer(t, env(map[string]string{EnvSentinelAddrs: "127.0.0.1:1", EnvClusterAddrs: "127.0.0.1:2"}))
		if err == nil || !strings.Contains(err.Error(), EnvSentinelAddrs) || !strings.Contains(err.Error(), EnvClusterAddrs) {
			t.Fatalf("err = %v; want one naming both variables", err)
		}
	})
	t.Run("bad URL", func(t *testing.T) {
		_, err := newServer(t, env(map[string]string{EnvRedisAddr: "redis://127.0.0.1:1/notadb"}))
		if err == nil || !strings.Contains(err.Error(), EnvRedisAddr) {
			t.Fatalf("err = %v; want one naming %s", err, EnvRedisAddr)
		}
	})
	for _, name := range []string{EnvRedisAddr, EnvClusterAddrs, EnvSentinelAddrs} {
		t.Run("unreachable "+name, func(t *testing.T) {
			t.Parallel()
			addr := Refused(t).(*redis.Client).Options().Addr
			_, err := newServer(t, env(map[string]string{name: addr}))
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("err = %v; want one naming %s and %s", err, name, addr)
			}
		})
		t.Run("hung "+name, func(t *testing.T) {
			t.Parallel()
			addr := Hung(t).(*redis.Client).Options().Addr
			_, err := newServer(t, env(map[string]string{name: addr}))
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("err = %v; want one naming %s and %s", err, name, addr)
			}
		})
	}
}

func TestSingleOptions(t *testing.T) {
	opt, err := singleOptions("redis://:secret@127.0.0.1:6390/3")
	if err != nil {
		t.Fatalf("singleOptions: %v", err)
	}
	if opt.Addr != "127.0.0.1:6390" || opt.DB != 3 || opt.Password != "secret" || opt.TLSConfig != nil {
		t.Fatalf("singleOptions = addr %s db %d password %q tls %v", opt.Addr, opt.DB, opt.Password, opt.TLSConfig)
	}
	opt, err = singleOptions("rediss://127.0.0.1:6390")
	if err != nil || opt.TLSConfig == nil {
		t.Fatalf("singleOptions(rediss) = %+v, %v; want TLS", opt, err)
	}
	opt, err = singleOptions("localhost:6379")
	if err != nil || opt.Addr != "localhost:6379" {
		t.Fatalf("singleOptions(host:port) = %+v, %v", opt, err)
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := Refused(t).Ping(ctx).Err(); err == nil {
		t.Fatal("PING on Refused succeeded")
	}
}

func TestHung(t *testing.T) {
	c, accepted := hung(t)
	done := make(chan error, 1)
	go func() { done <- c.Ping(context.Background()).Err() }()
	<-accepted // the client connected, and will hear nothing back
	// Closing the client ends the pending PING, which must then fail.
	_ = c.Close()
	if err := <-done; err == nil {
		t.Fatal("PING on Hung succeeded")
	}
}
