package lock_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// roundTrips is a go-redis hook that counts what goes over the wire: one
// per command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// countedClient returns a lock Client whose Redis calls are counted.
func countedClient(tb testing.TB, srv *redistest.Server) (*lock.Client, *roundTrips) {
	rdb := srv.Client()
	hook := &roundTrips{}
	rdb.AddHook(hook)
	c, err := lock.New(rdb, lock.Options{Prefix: srv.Prefix, Timeout: testTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	return c, hook
}

// Obtain and Release are one round trip each, once the scripts are loaded.
func TestOneRoundTripEach(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c, hook := countedClient(t, srv)
	ctx := context.Background()
	for i := 0; i < 3; i++ { // the first loads the scripts (EVALSHA, then EVAL)
		before := hook.n.Load()
		l, err := c.Obtain(ctx, "k", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		obtained := hook.n.Load()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		if o, r := obtained-before, hook.n.Load()-obtained; o != 1 || r != 1 {
			t.Fatalf("Obtain made %d Redis calls and Release %d, want 1 each", o, r)
		}
	}
}

// BenchmarkObtainRelease measures an uncontended obtain and release, and
// reports the Redis round trips of each.
func BenchmarkObtainRelease(b *testing.B) {
	srv := redistest.New(b)
	c, hook := countedClient(b, srv)
	ctx := context.Background()
	warm, err := c.Obtain(ctx, "bench", time.Minute, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := warm.Release(ctx); err != nil {
		b.Fatal(err)
	}
	var obtains, releases int64
	b.ResetTimer()
	for b.Loop() {
		before := hook.n.Load()
		l, err := c.Obtain(ctx, "bench", time.Minute, nil)
		if err != nil {
			b.Fatal(err)
		}
		mid := hook.n.Load()
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
		obtains += mid - before
		releases += hook.n.Load() - mid
	}
	b.ReportMetric(float64(obtains)/float64(b.N), "obtain-roundtrips/op")
	b.ReportMetric(float64(releases)/float64(b.N), "release-roundtrips/op")
}
