package httpcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/batch/batchtest"
	"github.com/redisware/redisware/core/redistest"
)

// While batch.Slots lookups are out, the lookups of other requests wait
// for a slot, then go out together: 100 GetOrLoad hits of 100 keys, made
// while the slots are taken, cost one round trip per batch.MaxBatch of
// them (on a Cluster, one per node of each batch), and each gets its own
// value.
func TestLookupsGoOutTogether(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	ctx := t.Context()
	for i := 0; i < 100+batch.Slots; i++ {
		v := fmt.Appendf(nil, "value %d", i)
		if err := c.Set(ctx, fmt.Sprint("k", i), v, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	g := batchtest.New()
	c.client.AddHook(g)
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
	for i := 0; i < batch.Slots; i++ { // they take the slots, and wait at the gate
		wg.Go(func() { getOrLoad(100 + i) })
	}
	waitFor(t, "the slots taken", func() bool { return g.Held() == batch.Slots })
	for i := 0; i < 100; i++ {
		wg.Go(func() { getOrLoad(i) })
	}
	waitFor(t, "100 lookups in the next batch", func() bool { return c.batches.Waiting() == 100 })
	g.Open()
	wg.Wait()
	if bad.Load() != 0 || loads.Load() != 0 {
		t.Fatalf("%d wrong answers, %d loads", bad.Load(), loads.Load())
	}
	g.CheckBatches(t, c.client, 100)
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
	// The set-up call dials the client's first connection: under a 50 ms
	// deadline on a busy machine it may take more than one try.
	batchtest.WaitFor(t, "a first Set within the 50ms deadline", func() bool {
		return c.Set(ctx, "k", []byte("v"), time.Minute) == nil
	})
	g := batchtest.New() // never opened: every single command runs out of time
	c.client.AddHook(g)
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for i := 0; i < 20*batch.Slots; i++ {
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
