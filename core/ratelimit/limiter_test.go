package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

var algorithms = []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.SlidingWindowLog, ratelimit.SlidingWindowCounter, ratelimit.FixedWindow}

// newLimiter returns a limiter on a fresh key space of srv, on clk's time.
func newLimiter(t *testing.T, srv *redistest.Server, clk *fakeClock, opts ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	opts.Prefix = srv.Prefix
	if clk != nil {
		opts.Clock = clk.Now
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second // generous: -race on two cores, not a latency test
	}
	l, err := ratelimit.New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step is one request at an offset from base and what must come of it.
type step struct {
	at        time.Duration
	cost      int
	allowed   bool
	remaining int
	retry     time.Duration // RetryAfter, exactly (RetryNever for never)
	reset     time.Duration // ResetAfter, exactly; -1 to skip
}

func runSteps(t *testing.T, l *ratelimit.Limiter, clk *fakeClock, key string, steps []step) {
	t.Helper()
	for i, s := range steps {
		clk.Set(s.at)
		cost := s.cost
		if cost == 0 {
			cost = 1
		}
		res, err := l.AllowN(context.Background(), key, cost)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Allowed != s.allowed || res.Remaining != s.remaining || res.RetryAfter != s.retry ||
			(s.reset >= 0 && res.ResetAfter != s.reset) {
			t.Fatalf("step %d at %v cost %d: got allowed=%v remaining=%d retry=%v reset=%v; want %v %d %v %v",
				i, s.at, cost, res.Allowed, res.Remaining, res.RetryAfter, res.ResetAfter, s.allowed, s.remaining, s.retry, s.reset)
		}
	}
}

const ms, sec = time.Millisecond, time.Second

func TestAlgorithms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		alg   ratelimit.Algorithm
		limit ratelimit.Limit
		steps []step
	}{
		{"gcra burst and refill", ratelimit.GCRA, ratelimit.PerSecond(10).WithBurst(3), []step{
			{0, 1, true, 2, 0, 100 * ms},
			{0, 1, true, 1, 0, 200 * ms},
			{0, 1, true, 0, 0, 300 * ms},
			{0, 1, false, 0, 100 * ms, 300 * ms},      // empty: one unit refills in 100ms
			{50 * ms, 1, false, 0, 50 * ms, 250 * ms}, // still empty
			{100 * ms, 1, true, 0, 0, 300 * ms},       // refilled one
			{400 * ms, 1, true, 2, 0, 100 * ms},       // the bucket was full again at 400ms
		}},
		{"gcra cost", ratelimit.GCRA, ratelimit.PerMinute(60).WithBurst(10), []step{
			{0, 4, true, 6, 0, 4 * sec},
			{0, 7, false, 6, 1 * sec, 4 * sec}, // needs one more unit: a second
			{0, 6, true, 0, 0, 10 * sec},
			{0, 11, false, 0, ratelimit.RetryNever, 10 * sec}, // over the burst: never
			{10 * sec, 10, true, 0, 0, 10 * sec},
		}},
		{"sliding log", ratelimit.SlidingWindowLog, ratelimit.Limit{Rate: 3, Period: 10 * sec}, []step{
			{0, 1, true, 2, 0, 10 * sec},
			{2 * sec, 1, true, 1, 0, 10 * sec},
			{4 * sec, 1, true, 0, 0, 10 * sec},
			{5 * sec, 1, false, 0, 5 * sec, 9 * sec}, // the unit from 0s leaves at 10s
			{5 * sec, 2, false, 0, 7 * sec, 9 * sec}, // two units: 0s and 2s must leave
			{9 * sec, 4, false, 0, ratelimit.RetryNever, 5 * sec},
			{10 * sec, 1, true, 0, 0, 10 * sec},        // window (0s, 10s] no longer holds 0s
			{10 * sec, 1, false, 0, 2 * sec, 10 * sec}, // denied: consumes nothing
			{12 * sec, 1, true, 0, 0, 10 * sec},
		}},
		{"sliding counter", ratelimit.SlidingWindowCounter, ratelimit.Limit{Rate: 10, Period: 10 * sec}, []step{
			{0, 10, true, 0, 0, 20 * sec},
			{5 * sec, 1, false, 0, 6 * sec, 15 * sec}, // fits at 11s: 10*(10-1)/10 + 1 <= 10
			{11 * sec, 1, true, 0, 0, 19 * sec},       // estimate 10*0.9 + 0 = 9, +1 = 10
			{11 * sec, 1, false, 0, 1 * sec, 19 * sec},
			{15 * sec, 4, true, 0, 0, 15 * sec},  // 10*0.5 + 1 = 6, +4 = 10
			{35 * sec, 10, true, 0, 0, 15 * sec}, // two windows later nothing weighs
		}},
		{"fixed window", ratelimit.FixedWindow, ratelimit.Limit{Rate: 5, Period: 10 * sec}, []step{
			{0, 3, true, 2, 0, 10 * sec},
			{9 * sec, 2, true, 0, 0, 1 * sec},
			{9*sec + 500*ms, 1, false, 0, 500 * ms, 500 * ms}, // waits for the edge
			{10 * sec, 5, true, 0, 0, 10 * sec},               // a new window: the full rate again
			{10 * sec, 6, false, 0, ratelimit.RetryNever, 10 * sec},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			clk := newClock()
			l := newLimiter(t, srv, clk, ratelimit.Options{Name: "uncached", Algorithm: c.alg, Limits: []ratelimit.Limit{c.limit}, DenyCacheSize: -1})
			runSteps(t, l, clk, "client-1", c.steps)
			// the same steps on the deny-cached limiter give the same answers
			cached := newLimiter(t, srv, clk, ratelimit.Options{Name: "cached", Algorithm: c.alg, Limits: []ratelimit.Limit{c.limit}})
			runSteps(t, cached, clk, "client-1", c.steps)
		})
	}
}

// Several limits on one key are one atomic decision: a request passes only
// if all admit it, and a denial consumes none of them.
func TestMultiLimit(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			clk := newClock()
			perSec := ratelimit.PerSecond(2).WithName("burst")
			perMin := ratelimit.PerMinute(3).WithName("minute")
			l := newLimiter(t, srv, clk, ratelimit.Options{Name: "api", Algorithm: alg, Limits: []ratelimit.Limit{perSec, perMin}, DenyCacheSize: -1})
			ctx := context.Background()
			allow := func(want bool) ratelimit.Result {
				t.Helper()
				res, err := l.Allow(ctx, "k")
				if err != nil || res.Allowed != want {
					t.Fatalf("at %v: allowed=%v err=%v, want %v", clk.Now().Sub(base), res.Allowed, err, want)
				}
				return res
			}
			allow(true)
			res := allow(true)
			if res.Limit.Name != "burst" || res.Remaining != 0 {
				t.Fatalf("after 2: limit %q remaining %d", res.Limit.Name, res.Remaining)
			}
			res = allow(false) // denied by the per-second limit...
			if res.Limit.Name != "burst" || res.States[1].Remaining != 1 || !res.States[1].Allowed || res.States[0].Allowed {
				t.Fatalf("denied by %q, states %+v", res.Limit.Name, res.States)
			}
			allow(false) // ...and the denials did not consume the per-minute limit
			clk.Set(2 * time.Second)
			res = allow(true)
			if res.Limit.Name != "minute" || res.Remaining != 0 {
				t.Fatalf("third: limit %q remaining %d", res.Limit.Name, res.Remaining)
			}
			clk.Set(3 * time.Second)
			res = allow(false) // now the minute limit denies
			if res.Limit.Name != "minute" || res.RetryAfter <= time.Second {
				t.Fatalf("fourth: denied by %q retry %v", res.Limit.Name, res.RetryAfter)
			}
		})
	}
}

func TestPeekAndReset(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			clk := newClock()
			l := newLimiter(t, srv, clk, ratelimit.Options{Name: "api", Algorithm: alg, Limits: []ratelimit.Limit{ratelimit.PerMinute(2)}})
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				res, err := l.Peek(ctx, "k")
				if err != nil || !res.Allowed || res.Remaining != 2 {
					t.Fatalf("peek %d on a fresh key: %+v %v", i, res, err)
				}
			}
			for i := 0; i < 2; i++ {
				if res, _ := l.Allow(ctx, "k"); !res.Allowed {
					t.Fatalf("allow %d denied", i)
				}
			}
			res, err := l.Peek(ctx, "k")
			if err != nil || res.Allowed || res.Remaining != 0 || res.RetryAfter <= 0 {
				t.Fatalf("peek when spent: %+v %v", res, err)
			}
			if res, _ := l.Allow(ctx, "k"); res.Allowed {
				t.Fatal("allowed over the limit")
			}
			if err := l.Reset(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			res, err = l.Allow(ctx, "k")
			if err != nil || !res.Allowed || res.Remaining != 1 {
				t.Fatalf("after reset: %+v %v", res, err)
			}
		})
	}
}

// Without a Clock the scripts read the Redis server's TIME.
func TestServerTime(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			l := newLimiter(t, srv, nil, ratelimit.Options{Name: "api", Algorithm: alg, Limits: []ratelimit.Limit{ratelimit.PerHour(3)}})
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				res, err := l.Allow(ctx, "k")
				if err != nil || !res.Allowed || res.Remaining != 2-i {
					t.Fatalf("request %d: %+v %v", i, res, err)
				}
			}
			res, err := l.Allow(ctx, "k")
			// The sliding counter may weigh the previous window too: up to
			// two periods.
			if err != nil || res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 2*time.Hour {
				t.Fatalf("fourth: %+v %v", res, err)
			}
		})
	}
}

func TestInvalidConfiguration(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := srv.Client()
	bad := []ratelimit.Options{
		{},
		{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(0)}},
		{Name: "api", Limits: []ratelimit.Limit{{Rate: 5}}},
		{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithBurst(-1)}},
		{Name: "api", Limits: []ratelimit.Limit{{Rate: 5, Period: 1500 * time.Nanosecond}}},
		{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(2_000_000)}},
		{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithName("café")}},
		{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(5), ratelimit.PerSecond(5)}},
		{Name: "api", Algorithm: ratelimit.FixedWindow, Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithBurst(10)}},
	}
	for i, o := range bad {
		if _, err := ratelimit.New(c, o); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("options %d: err = %v, want ErrInvalidLimit", i, err)
		}
	}
	if _, err := ratelimit.New(c, ratelimit.Options{Name: "api", Algorithm: 9, Limits: []ratelimit.Limit{ratelimit.PerSecond(1)}}); err == nil {
		t.Error("unknown algorithm accepted")
	}
	if _, err := ratelimit.NewLimit(0, time.Second, 0); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Errorf("NewLimit(0): %v", err)
	}
	if l, err := ratelimit.NewLimit(10, time.Minute, 20); err != nil || l.Burst != 20 {
		t.Errorf("NewLimit valid: %v %v", l, err)
	}
	l, err := ratelimit.New(c, ratelimit.Options{Name: "api", Settings: core.Settings{Prefix: srv.Prefix}, Limits: []ratelimit.Limit{ratelimit.PerSecond(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AllowN(context.Background(), "k", 0); !errors.Is(err, ratelimit.ErrInvalidCost) {
		t.Errorf("cost 0: %v", err)
	}
}

func TestLimitNames(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	l := newLimiter(t, srv, nil, ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(10), ratelimit.PerHour(1000)}})
	got := fmt.Sprint(l.Limits()[0].Name, " ", l.Limits()[1].Name)
	if got != "10-per-1s 1000-per-1h0m0s" {
		t.Fatalf("names %q", got)
	}
	named := newLimiter(t, srv, nil, ratelimit.Options{Name: "login", Limits: []ratelimit.Limit{ratelimit.PerSecond(10)}})
	if named.Limits()[0].Name != "login" {
		t.Fatalf("single limit of policy login named %q", named.Limits()[0].Name)
	}
}
