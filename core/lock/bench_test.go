package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

func countedClient(tb testing.TB, srv *redistest.Server) (*lock.Client, *redistest.RoundTrips) {
	rdb := srv.Client()
	hook := redistest.CountRoundTrips(rdb)
	c, err := lock.New(rdb, lock.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: testTimeout}})
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
		before := hook.Load()
		l, err := c.Obtain(ctx, "k", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		obtained := hook.Load()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue
		}
		if o, r := obtained-before, hook.Load()-obtained; o != 1 || r != 1 {
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
		before := hook.Load()
		l, err := c.Obtain(ctx, "bench", time.Minute, nil)
		if err != nil {
			b.Fatal(err)
		}
		mid := hook.Load()
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
		obtains += mid - before
		releases += hook.Load() - mid
	}
	b.ReportMetric(float64(obtains)/float64(b.N), "obtain-roundtrips/op")
	b.ReportMetric(float64(releases)/float64(b.N), "release-roundtrips/op")
}
