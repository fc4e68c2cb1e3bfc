package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// fire sends total requests for key at once, spread over the limiters, and
// returns how many were allowed.
func fire(t *testing.T, limiters []*ratelimit.Limiter, key string, total int) int64 {
	t.Helper()
	var allowed, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func(l *ratelimit.Limiter) {
			defer wg.Done()
			<-start
			res, err := l.Allow(context.Background(), key)
			if err != nil {
				failed.Add(1)
				return
			}
			if res.Allowed {
				allowed.Add(1)
			}
		}(limiters[i%len(limiters)])
	}
	close(start)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed", n, total)
	}
	return allowed.Load()
}

// fourInstances returns four limiters with the same policy, each on its own
// client (its own connection pool), as four app servers would have. The
// clients are FaultyClients injecting nothing: their read timeout (a
// minute) leaves the limiters' 10 s deadline in charge, where Client's 2 s
// would cut a slow batch short.
func fourInstances(t *testing.T, srv *redistest.Server, opts ratelimit.Options) []*ratelimit.Limiter {
	var ls []*ratelimit.Limiter
	for i := 0; i < 4; i++ {
		o := opts
		o.Prefix = srv.Prefix
		o.Timeout = 10 * time.Second // 1000 calls at once on two cores under -race
		l, err := ratelimit.New(srv.FaultyClient(&redistest.Faults{}), o)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

// Four independent clients fire 1000 requests at once at 100 per minute:
// exactly 100 pass, for every algorithm. The clock is frozen (the Clock
// option) so refills during the run cannot blur the count; what is tested
// is the atomicity of each decision across clients.
func TestExactUnderConcurrency(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			srv := redistest.New(t)
			clk := newClock()
			clk.Set(30 * time.Second) // mid-window
			ls := fourInstances(t, srv, ratelimit.Options{Name: "api", Algorithm: alg, Limits: []ratelimit.Limit{ratelimit.PerMinute(100)}, Clock: clk.Now})
			if got := fire(t, ls, "flooded", 1000); got != 100 {
				t.Fatalf("%d allowed, want exactly 100", got)
			}
		})
	}
}

// The same on the server's own clock, for the algorithms whose count cannot
// change within a few seconds: the sliding log (exact over any 60 s), and
// the window algorithms away from a window edge.
func TestExactUnderConcurrencyServerTime(t *testing.T) {
	for _, alg := range []ratelimit.Algorithm{ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter, ratelimit.FixedWindow} {
		t.Run(alg.String(), func(t *testing.T) {
			srv := redistest.New(t)
			c := srv.Client()
			if alg != ratelimit.SlidingWindowLog {
				// start with at least 10 s left in the current minute
				now, err := c.Time(context.Background()).Result()
				if err != nil {
					t.Fatal(err)
				}
				if left := time.Minute - time.Duration(now.Unix()%60)*time.Second; left < 10*time.Second {
					if srv.Miniredis() != nil {
						srv.Miniredis().SetTime(now.Add(left))
					} else {
						time.Sleep(left)
					}
				}
			}
			ls := fourInstances(t, srv, ratelimit.Options{Name: "api", Algorithm: alg, Limits: []ratelimit.Limit{ratelimit.PerMinute(100)}})
			if got := fire(t, ls, "flooded", 1000); got != 100 {
				t.Fatalf("%d allowed, want exactly 100", got)
			}
		})
	}
}

// Multi-limit decisions stay atomic under concurrency: with 10 per second
// and 25 per hour on one key, and the clock moved between bursts, the
// per-second limit caps each burst and the per-hour limit the total, at
// exactly 25.
func TestMultiLimitUnderConcurrency(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			srv := redistest.New(t)
			clk := newClock()
			ls := fourInstances(t, srv, ratelimit.Options{Name: "api", Algorithm: alg, Clock: clk.Now,
				Limits: []ratelimit.Limit{ratelimit.PerSecond(10), ratelimit.PerHour(25)}})
			var total int64
			for s := 0; s < 4; s++ {
				clk.Set(time.Duration(2*s) * time.Second)
				got := fire(t, ls, "k", 200)
				if got > 10 {
					t.Fatalf("burst %d: %d allowed in one second, limit is 10", s, got)
				}
				total += got
			}
			if total != 25 {
				t.Fatalf("%d allowed over four bursts, want exactly 25 (the per-hour limit)", total)
			}
		})
	}
}
