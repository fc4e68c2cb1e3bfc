package ratelimit_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// warm makes decisions through l on 64 keys of its own, so that every
// server has l's scripts (a NOSCRIPT reply, which means the script did not
// run, is not what is tested; on a Cluster of three masters, 64 keys miss
// one with a chance of 3 in 10^11), and then forgets the calls f counted.
func warm(t *testing.T, f *redistest.Faults, l *ratelimit.Limiter) {
	t.Helper()
	for i := range 64 {
		if _, err := l.Allow(context.Background(), "warm-up-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	f.ResetScriptCalls()
}

// retryPolicies are one policy per script a decision can run: each
// algorithm with one limit (gcra1.lua and fixed_window1.lua for two of
// them) and with two.
func retryPolicies() map[string]ratelimit.Options {
	out := map[string]ratelimit.Options{}
	for _, alg := range algorithms {
		out[alg.String()+"/one-limit"] = ratelimit.Options{Algorithm: alg, Limits: []ratelimit.Limit{ratelimit.PerHour(10)}}
		out[alg.String()+"/two-limits"] = ratelimit.Options{Algorithm: alg, Limits: []ratelimit.Limit{ratelimit.PerHour(10), ratelimit.PerDay(100)}}
	}
	return out
}

// remaining returns what a clean limiter of opts sees left for key.
func remaining(t *testing.T, srv *redistest.Server, opts ratelimit.Options, key string) int {
	t.Helper()
	opts.Prefix, opts.Timeout = srv.Prefix, 5*time.Second
	l, err := ratelimit.New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Peek(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return res.Remaining
}

// checkConsumedOnce checks what the decisions on k0, k1, ... of a policy
// of 10 per hour left, one unit each: on a key whose decision was
// answered, 9 units; on one whose decision failed, 9 or 10, never less. It
// returns how many failed.
func checkConsumedOnce(t *testing.T, srv *redistest.Server, opts ratelimit.Options, answered []bool) (failed int) {
	t.Helper()
	for i, ok := range answered {
		got := remaining(t, srv, opts, "k"+strconv.Itoa(i))
		switch {
		case ok && got != 9:
			t.Errorf("k%d: answered, and %d of 10 left; want 9", i, got)
		case !ok && got != 9 && got != 10:
			t.Errorf("k%d: failed, and %d of 10 left; want 9 or 10, never less", i, got)
		}
		if !ok {
			failed++
		}
	}
	return failed
}

// A decision whose reply is lost after the script ran has consumed its unit
// once, and only once: go-redis would re-send the call on the connection
// error (MaxRetries is 3 by default) and consume it again. The limiter
// reports the failure instead, and its failure policy answers.
func TestLostReplyConsumesOnce(t *testing.T) {
	t.Parallel()
	for name, opts := range retryPolicies() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			var f redistest.Faults
			opts.Name, opts.Prefix, opts.Timeout = "api", srv.Prefix, 5*time.Second
			opts.Logger = slog.New(slog.DiscardHandler)
			l, err := ratelimit.New(srv.FaultyClient(&f), opts)
			if err != nil {
				t.Fatal(err)
			}
			warm(t, &f, l)
			f.DropScriptReplies(1)
			res, err := l.Allow(context.Background(), "k")
			if !errors.Is(err, ratelimit.ErrRedis) || !res.Allowed {
				t.Fatalf("Allow = %+v, %v; want a failure, failing open", res, err)
			}
			if got := f.ScriptCalls(); got != 1 {
				t.Fatalf("the script was sent %d times, want once", got)
			}
			if got := remaining(t, srv, opts, "k"); got != 9 {
				t.Fatalf("%d of 10 left, want 9: the lost call must have consumed exactly one unit", got)
			}
			// The next call goes through, on a new connection.
			if res, err := l.Allow(context.Background(), "k"); err != nil || !res.Allowed || res.Remaining != 8 {
				t.Fatalf("next Allow = %+v, %v; want allowed with 8 left", res, err)
			}
		})
	}
}

// The same through an AutoPipeliner, either face: a batch that fails on a
// connection error is never re-sent whole (NoRetry keeps the limiter's
// calls out of go-redis's batch retry), so with 40 decisions in flight on
// 40 keys and the first batch's connection dropped after the server ran
// it, every key has consumed at most one unit, every decision that was
// answered has consumed exactly one, and each call was sent once.
func TestAutoPipelinerLostBatchConsumesOnce(t *testing.T) {
	t.Parallel()
	for _, face := range []string{redistest.Blocking, redistest.Deferred} {
		for name, opts := range retryPolicies() {
			t.Run(face+"/"+name, func(t *testing.T) {
				t.Parallel()
				srv := redistest.New(t)
				var f redistest.Faults
				ap := redistest.AutoPipeline(t, srv.FaultyClient(&f), face)
				opts.Name, opts.Prefix, opts.Timeout = "api", srv.Prefix, 5*time.Second
				opts.Logger = slog.New(slog.DiscardHandler)
				l, err := ratelimit.New(ap, opts)
				if err != nil {
					t.Fatal(err)
				}
				warm(t, &f, l)
				f.DropScriptReplies(1)
				const n = 40
				answered := make([]bool, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						res, err := l.Allow(context.Background(), "k"+strconv.Itoa(i))
						answered[i] = err == nil
						if err == nil && (!res.Allowed || res.Remaining != 9) {
							t.Errorf("k%d: %+v, want allowed with 9 left", i, res)
						}
					})
				}
				wg.Wait()
				failed := checkConsumedOnce(t, srv, opts, answered)
				if failed == 0 {
					t.Fatal("no decision failed: the fault was not injected")
				}
				if got := f.ScriptCalls(); got != n {
					t.Errorf("%d script calls sent for %d decisions; want one each", got, n)
				}
			})
		}
	}
}

// A call queued in an AutoPipeliner keeps the limiter's deadline, which the
// AutoPipeliner does not apply by itself: against a server that never
// answers, Allow returns at the deadline and fails open.
func TestAutoPipelinerDeadline(t *testing.T) {
	t.Parallel()
	for _, face := range []string{redistest.Blocking, redistest.Deferred} {
		t.Run(face, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			var f redistest.Faults
			f.StallScriptReplies(true)
			ap := redistest.AutoPipeline(t, srv.FaultyClient(&f), face)
			l, err := ratelimit.New(ap, ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerHour(10)},
				Settings: core.Settings{Prefix: srv.Prefix, Timeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := l.Allow(context.Background(), "k")
			elapsed := time.Since(start)
			if !errors.Is(err, rediscall.ErrTimeout) || !res.Allowed {
				t.Fatalf("Allow = %+v, %v; want the deadline's error, failing open", res, err)
			}
			// Generous: the client's own read timeout is a minute.
			if elapsed > 10*time.Second {
				t.Fatalf("answered after %v; the 50ms deadline was not kept", elapsed)
			}
		})
	}
}
