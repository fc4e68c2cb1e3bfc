package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// plainOptions returns the options of a single-node client on srv without
// ContextTimeoutEnabled: go-redis then ignores context deadlines, and the
// cache abandons a call that overruns its own (see core/internal/rediscall).
func plainOptions(t *testing.T, srv *redistest.Server) *redis.Options {
	t.Helper()
	if srv.Topology == redistest.Sentinel {
		// a failover client's Options().Addr is "FailoverClient", no address
		t.Skip("needs a single node's address")
	}
	switch c := srv.Client().(type) {
	case *redis.Client:
		o := c.Options()
		return &redis.Options{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig}
	case *redis.ClusterClient:
		t.Skip("needs a single node")
	}
	t.Skipf("client %T", srv.Client())
	return nil
}

// slowPipelines delays every pipeline while on, and every call of
// forget.lua sent on its own (an invalidation whose SCAN or SSCAN pages
// each hold one key forgets them one by one), and counts those it delayed
// once they are over.
type slowPipelines struct {
	on    atomic.Bool
	delay time.Duration
	over  atomic.Int64
}

func (h *slowPipelines) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *slowPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if !h.on.Load() || len(args) < 2 || fmt.Sprint(args[0]) != "evalsha" || fmt.Sprint(args[1]) != forgetScript.Hash() {
			return next(ctx, cmd)
		}
		time.Sleep(h.delay)
		defer h.over.Add(1)
		return next(ctx, cmd)
	}
}
func (h *slowPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !h.on.Load() {
			return next(ctx, cmds)
		}
		time.Sleep(h.delay)
		defer h.over.Add(1)
		return next(ctx, cmds)
	}
}

// An invalidation whose pipeline overruns the deadline, on a client that
// ignores context deadlines, is abandoned: its results are never read
// while the abandoned call may still write them (run with -race).
func TestAbandonedInvalidation(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := redis.NewClient(plainOptions(t, srv))
	t.Cleanup(func() { _ = rdb.Close() })
	slow := &slowPipelines{delay: 300 * time.Millisecond}
	rdb.AddHook(slow)
	c, err := New(rdb, Options{Settings: core.Settings{Prefix: srv.Prefix, Logger: quiet, Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	m := newMW(t, newCache(t, srv, Options{}), Route{}) // fills on a client of its own
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "t")
		fmt.Fprintf(w, "run %d", n)
	}}
	fill := func() {
		for i := 0; i < 3; i++ {
			get(m, o, fmt.Sprint("/r/", i))
			wantHit(t, get(m, o, fmt.Sprint("/r/", i)))
		}
	}
	for name, inv := range map[string]func() (int, error){
		"tags":   func() (int, error) { return c.InvalidateTags(t.Context(), "t") },
		"prefix": func() (int, error) { return c.InvalidatePrefix(t.Context(), "/r/") },
	} {
		fill()
		over := slow.over.Load()
		slow.on.Store(true)
		if _, err := inv(); err == nil {
			t.Fatalf("%s: a call slower than the deadline reported no error", name)
		}
		// the abandoned call goes on, and ends (failing or not)
		waitFor(t, name+": the abandoned call", func() bool { return slow.over.Load() > over })
		slow.on.Store(false)
	}
}

// New makes no Redis call: with the in-process tier, it returns at once
// although Redis cannot be reached (the dial would take a minute), and the
// tier stays off.
func TestNewDoesNotWaitForRedis(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	var dials atomic.Int64
	rdb := redis.NewClient(&redis.Options{Addr: "192.0.2.1:6379", DialTimeout: time.Minute, MaxRetries: -1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-unblock:
				return nil, errors.New("unreachable")
			}
		}})
	t.Cleanup(func() { _ = rdb.Close() })
	done := make(chan *Cache, 1)
	go func() {
		c, err := New(rdb, Options{LocalBytes: 1 << 20, Settings: core.Settings{Logger: quiet}})
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	select {
	case c := <-done:
		if c == nil {
			return
		}
		if c.LocalReady() {
			t.Error("the local tier serves without a subscription")
		}
		closed := make(chan struct{})
		go func() { _ = c.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Error("Close waited for the dial")
		}
		close(unblock)
	case <-time.After(10 * time.Second):
		close(unblock)
		t.Fatalf("New waited for an unreachable Redis (%d dials)", dials.Load())
	}
}

// The subscription is retried in the background until it holds; the tier
// serves from then on.
func TestSubscriptionRetries(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	opts := plainOptions(t, srv)
	var dials atomic.Int64
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) <= 3 {
			return nil, errors.New("not yet")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	c2, err := New(rdb, Options{LocalBytes: 1 << 20, Settings: core.Settings{Prefix: srv.Prefix, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c2.Close() })
	waitFor(t, "the subscription", c2.LocalReady)
	if n := dials.Load(); n < 4 {
		t.Fatalf("%d dials", n)
	}
}
