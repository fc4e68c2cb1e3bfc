package ratelimit_test

import (
	"context"
	"math/rand"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// Once Redis denies a key for d, or admits the request that takes what was
// left, which tells when the next one can pass, the limiter answers that
// key itself until then: a flood costs one round trip per refill, not one
// per request.
func TestDenyCacheSavesRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	hook := redistest.CountRoundTrips(client)
	clk := newClock()
	l, err := ratelimit.New(client, ratelimit.Options{Name: "api", Settings: core.Settings{Prefix: srv.Prefix, Timeout: time.Second}, Clock: clk.Now,
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
		if !res.Local {
			t.Fatalf("flood request %d: Local=%v", i, res.Local)
		}
		if res.RetryAfter != 12*time.Second || res.Remaining != 0 || res.ResetAfter != time.Minute ||
			len(res.States) != 1 || res.States[0].RetryAfter != 12*time.Second || res.States[0].Allowed {
			t.Fatalf("flood request %d: %+v", i, res)
		}
	}
	if got := hook.Load() - before; got != 0 {
		t.Fatalf("100 denied requests made %d Redis calls, want none: the fifth admission said when the next can pass", got)
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
			checkDenyCacheIsExact(t, alg, ratelimit.PerSecond(8), ratelimit.PerMinute(60))
		})
	}
}

// The same for a policy of one GCRA limit, decided by gcra1.lua, whose
// admissions fill the cache too: the request that takes what was left says
// when the next one can pass.
func TestDenyCacheIsExactOneLimit(t *testing.T) {
	t.Parallel()
	checkDenyCacheIsExact(t, ratelimit.GCRA, ratelimit.PerSecond(8))
	checkDenyCacheIsExact(t, ratelimit.GCRA, ratelimit.PerSecond(7).WithBurst(3)) // an interval of 142857.14... µs
}

func checkDenyCacheIsExact(t *testing.T, alg ratelimit.Algorithm, limits ...ratelimit.Limit) {
	srv := redistest.New(t)
	clk := newClock()
	opts := ratelimit.Options{Name: "shared", Algorithm: alg, Settings: core.Settings{Prefix: srv.Prefix, Timeout: time.Second}, Clock: clk.Now,
		Limits: limits}
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
			t.Fatalf("%v step %d at %v: the cache denied cost %d, which Redis admits", limits, i, now, cost)
		}
		if res.RetryAfter > truth.RetryAfter {
			t.Fatalf("%v step %d: cached RetryAfter %v is later than Redis's %v", limits, i, res.RetryAfter, truth.RetryAfter)
		}
	}
	if local == 0 {
		t.Fatal("the cache never answered: the test proved nothing")
	}
}

// gate is a go-redis hook that holds one command matching match, once
// armed: before it is sent (before true) or once its reply has come. The
// test learns that the command got there from reached, and lets it go on by
// closing open.
type gate struct {
	match   func(name string) bool
	before  bool
	armed   atomic.Bool
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(t *testing.T, before bool, names ...string) *gate {
	g := &gate{before: before, reached: make(chan struct{}), open: make(chan struct{})}
	g.match = func(name string) bool { return slices.Contains(names, name) }
	g.armed.Store(true)
	t.Cleanup(g.release) // never leave a call held
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !g.match(cmd.Name()) {
			return next(ctx, cmd)
		}
		if g.before && g.armed.CompareAndSwap(true, false) {
			close(g.reached)
			<-g.open
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		// a NOSCRIPT reply to EVALSHA is not the answer; the EVAL after it is
		if !g.before && err == nil && g.armed.CompareAndSwap(true, false) {
			close(g.reached)
			<-g.open
		}
		return err
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// newResetLimiter returns a limiter of one request per minute on client, on
// a frozen clock, whose one request for key k is spent, by another
// instance of the policy: the limiter's own deny cache is empty, so its
// next request for k goes to Redis.
func newResetLimiter(t *testing.T, srv *redistest.Server, client redis.UniversalClient) *ratelimit.Limiter {
	t.Helper()
	opts := ratelimit.Options{Name: "api", Settings: core.Settings{Prefix: srv.Prefix, Timeout: 10 * time.Second},
		Clock: newClock().Now, Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}}
	l, err := ratelimit.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ratelimit.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := other.Allow(context.Background(), "k"); err != nil || !res.Allowed {
		t.Fatalf("first request: %+v %v", res, err)
	}
	return l
}

// afterReset checks that, once Reset has returned, the next request for k
// goes to Redis (one round trip; two if EVALSHA met a flushed script
// cache) and is admitted with nothing left.
func afterReset(t *testing.T, l *ratelimit.Limiter, client redis.UniversalClient) {
	t.Helper()
	trips := redistest.CountRoundTrips(client)
	res, err := l.Allow(context.Background(), "k")
	if err != nil || !res.Allowed || res.Local || res.Remaining != 0 {
		t.Fatalf("the first request after Reset: %+v %v; want it admitted by Redis", res, err)
	}
	if n := trips.Load(); n != 1 && n != 2 {
		t.Fatalf("the first request after Reset made %d Redis calls, want 1", n)
	}
}

// A denial whose reply arrives after Reset returned stays out of the deny
// cache: Redis denied the request before the Reset, so the denial is over.
func TestResetBarsADenialInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	l := newResetLimiter(t, srv, client)
	g := newGate(t, false, "evalsha", "eval") // holds the next decision's reply
	client.AddHook(g)
	type answer struct {
		res ratelimit.Result
		err error
	}
	denied := make(chan answer, 1)
	go func() {
		res, err := l.Allow(context.Background(), "k")
		denied <- answer{res, err}
	}()
	<-g.reached // Redis has denied the request; the limiter has not seen it yet
	if err := l.Reset(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	g.release()
	if a := <-denied; a.err != nil || a.res.Allowed || a.res.Local || a.res.RetryAfter != time.Minute {
		t.Fatalf("the request in flight: %+v %v; want Redis's denial for 1m", a.res, a.err)
	}
	afterReset(t, l, client)
}

// A denial Redis made while a Reset was on its way (after Reset cleared the
// cache, before its DEL ran) and filed before Reset returned is dropped by
// the time Reset returns.
func TestResetDropsADenialFiledDuringIt(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	l := newResetLimiter(t, srv, client)
	g := newGate(t, true, "del") // holds Reset's DEL before it is sent
	client.AddHook(g)
	reset := make(chan error, 1)
	go func() { reset <- l.Reset(context.Background(), "k") }()
	<-g.reached
	res, err := l.Allow(context.Background(), "k")
	if err != nil || res.Allowed || res.Local || res.RetryAfter != time.Minute {
		t.Fatalf("the request during Reset: %+v %v; want Redis's denial for 1m", res, err)
	}
	g.release()
	if err := <-reset; err != nil {
		t.Fatal(err)
	}
	afterReset(t, l, client)
}

// When a flooded key's entry runs out, the requests in flight at that
// moment do not all go to Redis: the first asks, the others of its cost
// wait for its answer and take it from the cache. Here the first one's
// reply is held until ten others have arrived: one Redis call in all, and
// the ten answered locally, denied until the next refill.
func TestDenyCacheProbe(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	clk := newClock()
	l, err := ratelimit.New(client, ratelimit.Options{Name: "api", Settings: core.Settings{Prefix: srv.Prefix, Timeout: 10 * time.Second},
		Clock: clk.Now, Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed {
		t.Fatalf("first request: %+v %v", res, err)
	}
	clk.Set(time.Minute) // the entry the first request left runs out
	trips := redistest.CountRoundTrips(client)
	g := newGate(t, false, "evalsha", "eval")
	client.AddHook(g)
	probe := make(chan ratelimit.Result, 1)
	go func() {
		res, _ := l.Allow(ctx, "k")
		probe <- res
	}()
	<-g.reached // Redis has admitted it; the limiter has not seen it yet
	var wg sync.WaitGroup
	var answers [10]ratelimit.Result
	for i := range answers {
		wg.Go(func() { answers[i], _ = l.Allow(ctx, "k") })
	}
	time.Sleep(50 * time.Millisecond) // time enough for a wrong implementation to call Redis
	g.release()
	wg.Wait()
	if res := <-probe; !res.Allowed || res.Local {
		t.Fatalf("the probe: %+v, want admitted by Redis", res)
	}
	for i, res := range answers {
		if res.Allowed || !res.Local || res.RetryAfter != time.Minute {
			t.Errorf("waiter %d: %+v, want denied from the cache for 1m", i, res)
		}
	}
	if n := trips.Load(); n != 1 && n != 2 { // 2 only if EVALSHA met a flushed script cache
		t.Fatalf("%d Redis calls, want 1", n)
	}
}

// Nobody waits for a probe past its deadline: with the probe's reply held
// for good, the others stop waiting once the 100ms deadline of its call
// has passed, and ask Redis (one of them, whose answer the others wait
// for in turn).
func TestDenyCacheProbeDeadline(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	clk := newClock()
	l, err := ratelimit.New(client, ratelimit.Options{Name: "api", Settings: core.Settings{Prefix: srv.Prefix, Timeout: 100 * time.Millisecond},
		Clock: clk.Now, Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed {
		t.Fatalf("first request: %+v %v", res, err)
	}
	clk.Set(time.Minute)
	g := newGate(t, false, "evalsha", "eval")
	client.AddHook(g)
	go func() { _, _ = l.Allow(ctx, "k") }() // held until the test ends
	<-g.reached
	done := make(chan ratelimit.Result, 3)
	for range 3 {
		go func() {
			res, _ := l.Allow(ctx, "k")
			done <- res
		}()
	}
	fromRedis := 0
	for range 3 {
		select {
		case res := <-done:
			if res.Allowed || res.RetryAfter != time.Minute {
				t.Errorf("%+v, want denied for 1m: the held request took the unit", res)
			}
			if !res.Local {
				fromRedis++
			}
		case <-time.After(10 * time.Second): // generous: the wait ends after 100ms
			t.Fatal("still waiting for a probe whose deadline has passed")
		}
	}
	if fromRedis == 0 {
		t.Fatal("no request asked Redis after the probe's deadline")
	}
}
