package ratelimit_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/batch/batchtest"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// decideAsync makes one decision for each key, each in a goroutine of its
// own, and returns a function that waits for them and returns their
// results and errors, in the order of keys.
func decideAsync(l *ratelimit.Limiter, keys ...string) func() ([]ratelimit.Result, []error) {
	res, errs := make([]ratelimit.Result, len(keys)), make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() { res[i], errs[i] = l.Allow(context.Background(), k) })
	}
	return func() ([]ratelimit.Result, []error) { wg.Wait(); return res, errs }
}

func keyRange(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

// formBatch adds a gate to client, l's, and makes one decision on each of
// s0, s1, ... (one per slot), which the gate holds, so that they take the slots; then
// n decisions on k0 to k(n-1), which wait in l's next batch. It returns
// the gate and the waits of both groups.
func formBatch(t *testing.T, l *ratelimit.Limiter, client redis.UniversalClient, n int) (g *batchtest.Gate, first, rest func() ([]ratelimit.Result, []error)) {
	t.Helper()
	g = batchtest.New()
	client.AddHook(g)
	first = decideAsync(l, keyRange("s", batch.Slots)...)
	batchtest.WaitFor(t, "the slots taken", func() bool { return g.Held() == batch.Slots })
	rest = decideAsync(l, keyRange("k", n)...)
	batchtest.WaitFor(t, "the decisions in the next batch", func() bool { return ratelimit.BatchWaiting(l) == n })
	return g, first, rest
}

// While batch.Slots decisions are out, the decisions of other requests wait
// for a slot and then go out together: 100 decisions on 100 keys, made
// while the slots are taken, cost one round trip per batch.MaxBatch of
// them (on a Cluster, one per node of each batch), and each consumes its
// own key's unit, once.
func TestDecisionsGoOutTogether(t *testing.T) {
	t.Parallel()
	for name, opts := range retryPolicies() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			client := srv.Client()
			opts.Name, opts.Prefix, opts.Timeout = "api", srv.Prefix, 5*time.Second
			l, err := ratelimit.New(client, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keyRange("warm-up-", 64) { // every node has the scripts
				if _, err := l.Allow(context.Background(), k); err != nil {
					t.Fatal(err)
				}
			}
			g, first, rest := formBatch(t, l, client, 100)
			g.Open()
			for _, wait := range []func() ([]ratelimit.Result, []error){first, rest} {
				res, errs := wait()
				for i := range res {
					if errs[i] != nil || !res[i].Allowed || res[i].Remaining != 9 {
						t.Errorf("decision %d: %+v, %v; want allowed with 9 left", i, res[i], errs[i])
					}
				}
			}
			g.CheckBatches(t, client, 100)
			for _, k := range []string{"k0", "k50", "k99", "s0"} {
				if got := remaining(t, srv, opts, k); got != 9 {
					t.Errorf("%s: %d of 10 left, want 9", k, got)
				}
			}
		})
	}
}

// A batch whose connection drops after the server ran it is never re-sent
// (NoRetry keeps the decisions out of go-redis's pipeline retry): with 38
// decisions on 38 keys in one batch whose reply is lost, every decision
// answered has consumed exactly one unit, every one that failed at most
// one, and each call was sent once.
func TestLostBatchConsumesOnce(t *testing.T) {
	t.Parallel()
	for name, opts := range retryPolicies() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			var f redistest.Faults
			client := srv.FaultyClient(&f)
			opts.Name, opts.Prefix, opts.Timeout = "api", srv.Prefix, 5*time.Second
			opts.Logger = slog.New(slog.DiscardHandler)
			l, err := ratelimit.New(client, opts)
			if err != nil {
				t.Fatal(err)
			}
			warm(t, &f, l)
			const n = 38
			g, first, rest := formBatch(t, l, client, n)
			// One decision out fails unsent; its slot frees, and the batch's
			// pipeline is the next script call written: its reply is lost.
			f.DropScriptReplies(1)
			g.FailOne(t)
			res, errs := rest()
			g.Open()
			singles, singleErrs := first()
			answered := make([]bool, n)
			for i := range n {
				answered[i] = errs[i] == nil
				switch {
				case answered[i] && (!res[i].Allowed || res[i].Remaining != 9):
					t.Errorf("k%d: %+v, want allowed with 9 left", i, res[i])
				case !answered[i] && (!errors.Is(errs[i], ratelimit.ErrRedis) || !res[i].Allowed):
					t.Errorf("k%d: %+v, %v; want the failure, failing open", i, res[i], errs[i])
				}
			}
			failed := checkConsumedOnce(t, srv, opts, answered)
			if failed == 0 {
				t.Fatal("no decision of the batch failed: the fault was not injected")
			}
			unsent := 0
			for i := range singles {
				if errors.Is(singleErrs[i], batchtest.ErrFailed) {
					unsent++
					if got := remaining(t, srv, opts, "s"+strconv.Itoa(i)); got != 10 {
						t.Errorf("s%d: never sent, and %d of 10 left", i, got)
					}
				} else if singleErrs[i] != nil || singles[i].Remaining != 9 {
					t.Errorf("s%d: %+v, %v; want allowed with 9 left", i, singles[i], singleErrs[i])
				}
			}
			if unsent != 1 {
				t.Errorf("%d decisions failed unsent, want the one the gate failed", unsent)
			}
			if got := f.ScriptCalls(); got != n+batch.Slots-1 {
				t.Errorf("%d script calls sent, want %d: one per decision but the one never sent", got, n+batch.Slots-1)
			}
		})
	}
}

// A decision waiting in a batch keeps the limiter's deadline: against a
// server that never answers, every decision returns by its deadline (a
// batch's is its earliest member's) and fails open, in a batch or not.
func TestBatchKeepsDeadline(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var f redistest.Faults
	client := srv.FaultyClient(&f)
	l, err := ratelimit.New(client, ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerHour(10)},
		Settings: core.Settings{Prefix: srv.Prefix, Timeout: time.Second, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	warm(t, &f, l)
	f.StallScriptReplies(true)
	start := time.Now()
	g, first, rest := formBatch(t, l, client, 20)
	g.FailOne(t) // the batch goes out, and never hears back
	for _, wait := range []func() ([]ratelimit.Result, []error){first, rest} {
		res, errs := wait()
		for i := range res {
			if !errors.Is(errs[i], ratelimit.ErrRedis) || !res[i].Allowed {
				t.Errorf("decision %d: %+v, %v; want a failure, failing open", i, res[i], errs[i])
			}
		}
	}
	// Generous: the client's own read timeout is a minute.
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Fatalf("answered after %v; the 1s deadline was not kept", elapsed)
	}
	if pipelines, _ := g.Pipelines(); pipelines == 0 {
		t.Fatal("no batch went out")
	}
}
