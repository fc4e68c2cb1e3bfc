package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/internal/redisproc"
)

// runCLI runs redis-cli with args, with a minute to finish.
func runCLI(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
}

// checkScriptFlush empties the script cache of every node (flush) before
// each step, and checks that the next call of every core works, as after a
// restart or a failover to a node that never saw the scripts: each sends
// EVALSHA, meets NOSCRIPT, and sends EVAL. The steps go through inst, one
// build of the reference app, and through the lock and the deny list on
// its client.
func checkScriptFlush(t *testing.T, inst *instance, flush func()) {
	t.Helper()
	ctx := t.Context()
	hc := httpClient(t, "127.0.0.3")
	get := func(path, cookie string) *reply {
		t.Helper()
		var h map[string][]string
		if cookie != "" {
			h = cookieHeader(cookie)
		}
		r, err := send(ctx, hc, "GET", inst.url+path, h, "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var cookie string
	var order []byte
	steps := []struct {
		name string
		run  func() error
	}{
		{"ratelimit (GET /limited)", func() error { return get("/limited", "").policy("limited") }},
		{"session create (POST /login)", func() error {
			var err error
			cookie, err = login(ctx, hc, inst, "flushed")
			return err
		}},
		{"session load and save (GET /me)", func() error {
			r := get("/me", cookie)
			if r.status != 200 || !bytes.Contains(r.body, []byte(`"user":"flushed"`)) {
				return r.fail("GET /me")
			}
			return nil
		}},
		{"idempotency claim and store (POST /orders)", func() error {
			r, err := send(ctx, hc, "POST", inst.url+"/orders", orderHeader("flushed-1"), orderBody(1))
			if err != nil {
				return err
			}
			if r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
				return r.fail("POST /orders")
			}
			order = r.body
			return nil
		}},
		{"idempotency replay (POST /orders again)", func() error {
			r, err := send(ctx, hc, "POST", inst.url+"/orders", orderHeader("flushed-1"), orderBody(1))
			if err != nil {
				return err
			}
			if r.status != 201 || !bytes.Equal(r.body, order) || r.header.Get("Idempotent-Replayed") != "true" {
				return r.fail("POST /orders replay")
			}
			return nil
		}},
		{"cache lookup and store (GET /cached, a miss)", func() error {
			r := get("/cached?q=flushed", "")
			if st := r.header.Get("Cache-Status"); r.status != 200 || !strings.Contains(st, "stored") {
				return fmt.Errorf("%d Cache-Status %q, want a stored miss", r.status, st)
			}
			return nil
		}},
		{"cache lookup (GET /cached, a hit)", func() error {
			r := get("/cached?q=flushed", "")
			if st := r.header.Get("Cache-Status"); r.status != 200 || !strings.Contains(st, "hit") {
				return fmt.Errorf("%d Cache-Status %q, want a hit", r.status, st)
			}
			return nil
		}},
		{"lock obtain, refresh, release", func() error {
			c, err := lock.New(inst.rdb, lock.Options{Settings: core.Settings{Prefix: inst.prefix}})
			if err != nil {
				return err
			}
			l, err := c.Obtain(ctx, "flushed", time.Minute, nil)
			if err != nil {
				return err
			}
			flush()
			if err := l.Refresh(ctx, time.Minute); err != nil {
				return fmt.Errorf("refresh: %w", err)
			}
			flush()
			return l.Release(ctx)
		}},
		{"deny list revoke and check", func() error {
			d, err := session.NewDenyList(inst.rdb, session.DenyListOptions{Settings: core.Settings{Prefix: inst.prefix}})
			if err != nil {
				return err
			}
			if err := d.Revoke(ctx, "flushed", time.Now().Add(time.Minute)); err != nil {
				return err
			}
			flush()
			if ok, err := d.Revoked(ctx, "flushed"); err != nil || !ok {
				return fmt.Errorf("Revoked = %v, %v", ok, err)
			}
			return nil
		}},
	}
	for _, s := range steps {
		flush()
		if err := s.run(); err != nil {
			t.Errorf("after SCRIPT FLUSH, %s: %v", s.name, err)
		}
	}
}

// A standalone server's script cache flushed before each call of every
// core: each next call works.
func TestScriptFlushStandalone(t *testing.T) {
	redisproc.Gate(t)
	s := redisproc.Start(t)
	insts := startApps(t, "sf", func() redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		return c
	})
	checkScriptFlush(t, insts[0], func() {
		if err := s.Client().ScriptFlush(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

// commandStats returns the calls of every command INFO commandstats lists
// on s.
func commandStats(t *testing.T, s *redisproc.Server) map[string]int {
	t.Helper()
	info, err := s.Info(context.Background(), "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for k, v := range info {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(kv, "calls="); ok {
				var calls int
				fmt.Sscan(n, &calls)
				out[name] = calls
			}
		}
	}
	return out
}

// readCommands are the commands a client reading from replicas may send to
// one (Redis flags them readonly); a replica runs no write but those of
// the replication stream.
var readCommands = []string{"get", "mget", "exists", "hget", "hmget", "hgetall", "hexists", "hlen", "pttl", "ttl",
	"strlen", "type", "smembers", "sismember", "scard", "sscan", "scan", "zrange", "zscore", "zcard",
	"evalsha_ro", "eval_ro", "fcall_ro", "evalsha", "eval"}

// When the application's Cluster client reads from replicas (ReadOnly,
// RouteRandomly), a token revoked a moment ago is refused: DenyList.Revoked
// reads the master (a script), never a replica that may lag behind. INFO
// commandstats on every node shows where each call ran; a plain EXISTS on
// the same client, for contrast, runs on replicas. The reference app's
// routes on such a client send no read to a replica either.
func TestReplicaReads(t *testing.T) {
	redisproc.Gate(t)
	c := redisproc.StartCluster(t, redisproc.ClusterOptions{Replicas: 1})
	ctx := context.Background()
	nodes, err := c.Topology(ctx)
	if err != nil {
		t.Fatal(err)
	}
	isReplica := map[string]bool{}
	for _, n := range nodes {
		isReplica[n.Addr] = n.Has("slave")
	}
	reset := func() {
		for _, s := range c.Nodes {
			if err := s.Client().ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// sum adds the calls of names on the masters and on the replicas.
	sum := func(names ...string) (masters, replicas int) {
		for _, s := range c.Nodes {
			st := commandStats(t, s)
			for _, name := range names {
				if isReplica[s.Addr] {
					replicas += st[name]
				} else {
					masters += st[name]
				}
			}
		}
		return masters, replicas
	}
	// replicaReads returns the read commands replicas served, by name.
	replicaReads := func() map[string]int {
		served := map[string]int{}
		for _, s := range c.Nodes {
			if !isReplica[s.Addr] {
				continue
			}
			st := commandStats(t, s)
			for _, name := range readCommands {
				if st[name] > 0 {
					served[name] += st[name]
				}
			}
		}
		return served
	}
	const n = 50
	for name, opts := range map[string]*redis.ClusterOptions{
		"ReadOnly":      {ReadOnly: true, ContextTimeoutEnabled: true},
		"RouteRandomly": {RouteRandomly: true, ContextTimeoutEnabled: true},
	} {
		t.Run(name, func(t *testing.T) {
			rdb := c.Client(opts)
			d, err := session.NewDenyList(rdb, session.DenyListOptions{Settings: core.Settings{Prefix: "rr:" + name + ":"}})
			if err != nil {
				t.Fatal(err)
			}
			// Load the script on every master first, so that each check below is
			// one EVALSHA.
			for i := range 200 {
				if _, err := d.Revoked(ctx, fmt.Sprintf("warm-%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			reset()
			for i := range n {
				tok := fmt.Sprintf("tok-%d", i)
				if err := d.Revoke(ctx, tok, time.Now().Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				if ok, err := d.Revoked(ctx, tok); err != nil || !ok {
					t.Fatalf("Revoked(%s) right after Revoke = %v, %v", tok, ok, err)
				}
			}
			m, r := sum("evalsha", "eval")
			if m != n || r != 0 {
				t.Fatalf("Revoked ran %d times on masters and %d on replicas, want %d and 0", m, r, n)
			}
			if _, r := sum("exists"); r != 0 {
				t.Fatalf("replicas served %d EXISTS", r)
			}
			// The contrast: the same client sends a plain EXISTS to replicas.
			for i := range n {
				if err := rdb.Exists(ctx, fmt.Sprintf("tok-%d", i)).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if _, r := sum("exists"); r == 0 {
				t.Fatalf("no plain EXISTS reached a replica: the client does not read from replicas, the test proves nothing")
			}
		})
	}

	// The cache's application data: Get and the pages of a tag index taken
	// aside by InvalidateTags are scripts, so a value just invalidated is
	// never read back from a replica that lags.
	t.Run("cache data", func(t *testing.T) {
		rdb := c.Client(&redis.ClusterOptions{ReadOnly: true, ContextTimeoutEnabled: true})
		cache, err := httpcache.New(rdb, httpcache.Options{Settings: core.Settings{Prefix: "rr:data:"}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 { // every script on every master
			key := fmt.Sprintf("warm-%d", i)
			if err := cache.Set(ctx, key, []byte("w"), time.Minute, "warm"); err != nil {
				t.Fatal(err)
			}
			if _, err := cache.Get(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := cache.InvalidateTags(ctx, "warm"); err != nil {
			t.Fatal(err)
		}
		reset()
		for i := range n {
			key := fmt.Sprintf("v-%d", i)
			if err := cache.Set(ctx, key, []byte(key), time.Minute, "t"); err != nil {
				t.Fatal(err)
			}
			if v, err := cache.Get(ctx, key); err != nil || string(v) != key {
				t.Fatalf("Get(%s) right after Set = %q, %v", key, v, err)
			}
		}
		if got, err := cache.InvalidateTags(ctx, "t"); err != nil || got != n {
			t.Fatalf("InvalidateTags = %d, %v; want %d", got, err, n)
		}
		for i := range n {
			if v, err := cache.Get(ctx, fmt.Sprintf("v-%d", i)); !errors.Is(err, httpcache.ErrNotFound) {
				t.Fatalf("Get(v-%d) right after InvalidateTags = %q, %v; want ErrNotFound", i, v, err)
			}
		}
		served := replicaReads()
		if len(served) > 0 {
			t.Errorf("the cache sent reads to replicas: %v", served)
		}
	})

	t.Run("reference app", func(t *testing.T) {
		insts := startApps(t, "rr", func() redis.UniversalClient {
			return c.Client(&redis.ClusterOptions{ReadOnly: true, ContextTimeoutEnabled: true})
		})
		reset()
		hc := httpClient(t, "127.0.0.4")
		for _, inst := range insts {
			cookie, err := login(ctx, hc, inst, "reader")
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				key := fmt.Sprintf("rr-%s-%d", inst.name, i)
				for range 2 { // run, then replay
					if r, err := send(ctx, hc, "POST", inst.url+"/orders", orderHeader(key), orderBody(i)); err != nil || r.status != 201 {
						t.Fatalf("POST /orders: %v %v", r, err)
					}
				}
				for _, path := range []string{"/me", "/greeting", "/cached?q=" + key, "/cached?q=" + key, "/limited", "/items/" + key} {
					r, err := send(ctx, hc, "GET", inst.url+path, cookieHeader(cookie), "")
					if err != nil || (r.status != 200 && r.status != 429) {
						t.Fatalf("GET %s: %v %v", path, r, err)
					}
					if path == "/me" {
						var me struct{ Visits int }
						if json.Unmarshal(r.body, &me) != nil || me.Visits != i+1 {
							t.Fatalf("GET /me: %s, want visits %d: a write not read back", r.body, i+1)
						}
					}
				}
			}
		}
		served := replicaReads()
		if len(served) > 0 {
			t.Errorf("the reference app's routes sent reads to replicas: %v", served)
		}
	})
}
