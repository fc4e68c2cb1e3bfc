package httpcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// gate holds every single command (not pipelines) while closed, until its
// context ends, and counts the pipelines and their commands (but those
// that set up a new connection).
type gate struct {
	closed    atomic.Bool
	open      chan struct{}
	held      atomic.Int64
	pipelines atomic.Int64
	piped     atomic.Int64
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.closed.Load() {
			g.held.Add(1)
			select {
			case <-g.open:
			case <-ctx.Done():
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() != "client" && cmds[0].Name() != "hello" { // not a new connection's set-up
			g.pipelines.Add(1)
			g.piped.Add(int64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

// batchLen returns how many commands wait in c's next batch.
func batchLen(c *Cache) int {
	c.batches.mu.Lock()
	defer c.batches.mu.Unlock()
	if c.batches.next == nil {
		return 0
	}
	return len(c.batches.next.cmds)
}

// While batchSlots lookups are out, the lookups of other requests wait
// for a slot, then go out together: 100 GetOrLoad hits of 100 keys, made
// while the slots are taken, cost one round trip, and each gets its own
// value.
func TestLookupsGoOutTogether(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	ctx := t.Context()
	for i := 0; i < 100+batchSlots; i++ {
		v := fmt.Appendf(nil, "value %d", i)
		if err := c.Set(ctx, fmt.Sprint("k", i), v, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	g := newGate()
	c.client.AddHook(g)
	g.closed.Store(true)
	var wg sync.WaitGroup
	var bad atomic.Int64
	var loads atomic.Int64
	getOrLoad := func(i int) {
		v, err := c.GetOrLoad(ctx, fmt.Sprint("k", i), time.Minute, func(context.Context) ([]byte, error) {
			loads.Add(1)
			return nil, nil
		})
		if err != nil || string(v) != fmt.Sprint("value ", i) {
			bad.Add(1)
		}
	}
	for i := 0; i < batchSlots; i++ { // they take the slots, and wait at the gate
		wg.Go(func() { getOrLoad(100 + i) })
	}
	waitFor(t, "the slots taken", func() bool { return g.held.Load() == batchSlots })
	for i := 0; i < 100; i++ {
		wg.Go(func() { getOrLoad(i) })
	}
	waitFor(t, "100 lookups in the next batch", func() bool { return batchLen(c) == 100 })
	close(g.open)
	wg.Wait()
	if bad.Load() != 0 || loads.Load() != 0 {
		t.Fatalf("%d wrong answers, %d loads", bad.Load(), loads.Load())
	}
	want := int64(1)
	if _, ok := c.client.(*redis.ClusterClient); ok {
		want = g.pipelines.Load() // one per node the keys live on
	}
	if g.pipelines.Load() != want || g.piped.Load() != 100 {
		t.Fatalf("%d pipelines of %d commands in all, want %d of 100", g.pipelines.Load(), g.piped.Load(), want)
	}
}

// A lookup waiting for a batch waits no longer than its own deadline
// (Settings.Timeout), however long the lookups out take.
func TestBatchKeepsDeadlines(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	opts := Options{}
	opts.Settings = core.Settings{Timeout: 50 * time.Millisecond}
	c := newCache(t, srv, opts)
	ctx := t.Context()
	if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	g := newGate() // never opened: every single command runs out of time
	c.client.AddHook(g)
	g.closed.Store(true)
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for i := 0; i < 20*batchSlots; i++ {
		wg.Go(func() {
			start := time.Now()
			v, err := c.GetOrLoad(ctx, fmt.Sprint("k", i), time.Minute, func(context.Context) ([]byte, error) { return []byte("loaded"), nil })
			if d := time.Since(start); int64(d) > slowest.Load() {
				slowest.Store(int64(d))
			}
			if err != nil || len(v) == 0 {
				t.Errorf("GetOrLoad: %q %v", v, err)
			}
		})
	}
	wg.Wait()
	// Generous: the point is that nobody waits for the gate (forever).
	if d := time.Duration(slowest.Load()); d > 5*time.Second {
		t.Fatalf("a call took %v with a deadline of 50ms", d)
	}
}
