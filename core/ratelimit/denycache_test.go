package ratelimit_test

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// Once Redis denies a key for d, the limiter answers that key itself until
// d has passed: a flood costs one round trip per refill, not one per request.
func TestDenyCacheSavesRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	hook := redistest.CountRoundTrips(client)
	clk := newClock()
	l, err := ratelimit.New(client, ratelimit.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: time.Second}, Clock: clk.Now,
		Limits: []ratelimit.Limit{ratelimit.PerMinute(5)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if res, _ := l.Allow(ctx, "flooder"); !res.Allowed || res.Local {
			t.Fatalf("request %d: %+v", i, res)
		}
	}
	before := hook.Load()
	for i := 0; i < 100; i++ {
		res, err := l.Allow(ctx, "flooder")
		if err != nil || res.Allowed {
			t.Fatalf("flood request %d: %+v %v", i, res, err)
		}
		if res.Local != (i > 0) {
			t.Fatalf("flood request %d: Local=%v", i, res.Local)
		}
		if res.RetryAfter != 12*time.Second || len(res.States) != 1 || res.States[0].RetryAfter != 12*time.Second {
			t.Fatalf("flood request %d: retry %v, states %+v", i, res.RetryAfter, res.States)
		}
	}
	if got := hook.Load() - before; got != 1 && got != 2 { // 2 only if EVALSHA met a flushed script cache
		t.Fatalf("100 denied requests made %d Redis calls, want 1", got)
	}
	// Time passes: the remembered denial ends exactly when Redis would admit.
	clk.Set(12*time.Second - time.Microsecond)
	if res, _ := l.Allow(ctx, "flooder"); res.Allowed || !res.Local || res.RetryAfter != time.Microsecond {
		t.Fatalf("just before the refill: %+v", res)
	}
	// A request of another cost still asks Redis.
	if res, _ := l.AllowN(ctx, "flooder", 2); res.Local || res.Allowed {
		t.Fatalf("cost 2: %+v", res)
	}
	clk.Set(12 * time.Second)
	if res, _ := l.Allow(ctx, "flooder"); !res.Allowed || res.Local {
		t.Fatalf("at the refill: %+v", res)
	}
}

// The deny cache never denies what Redis would admit. Two instances share
// one policy; A has the cache, B does not. Random requests of random cost
// go to either at random times; every time A answers from its cache, Redis
// (B's Peek) must agree the request would be denied, and RetryAfter must be
// no later than the moment Redis would admit it.
func TestDenyCacheIsExact(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			clk := newClock()
			opts := ratelimit.Options{Algorithm: alg, Settings: core.Settings{Prefix: srv.Prefix, Timeout: time.Second}, Clock: clk.Now,
				Limits: []ratelimit.Limit{ratelimit.PerSecond(8), ratelimit.PerMinute(60)}}
			a, err := ratelimit.New(srv.Client(), opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.DenyCacheSize = -1
			b, err := ratelimit.New(srv.Client(), opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rng := rand.New(rand.NewSource(int64(alg) + 1))
			var now time.Duration
			local := 0
			for i := 0; i < 400; i++ {
				now += time.Duration(rng.Intn(80)) * time.Millisecond
				clk.Set(now)
				cost := 1 + rng.Intn(3)
				if rng.Intn(3) == 0 {
					if _, err := b.AllowN(ctx, "k", cost); err != nil {
						t.Fatal(err)
					}
					continue
				}
				res, err := a.AllowN(ctx, "k", cost)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Local {
					continue
				}
				local++
				truth, err := b.PeekN(ctx, "k", cost)
				if err != nil {
					t.Fatal(err)
				}
				if truth.Allowed {
					t.Fatalf("step %d at %v: the cache denied cost %d, which Redis admits", i, now, cost)
				}
				if res.RetryAfter > truth.RetryAfter {
					t.Fatalf("step %d: cached RetryAfter %v is later than Redis's %v", i, res.RetryAfter, truth.RetryAfter)
				}
			}
			if local == 0 {
				t.Fatal("the cache never answered: the test proved nothing")
			}
		})
	}
}
