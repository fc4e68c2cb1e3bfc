package rediscall_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/redistest"
)

func TestHonoursContext(t *testing.T) {
	on := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	off := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer on.Close()
	defer off.Close()
	if !rediscall.HonoursContext(on) || rediscall.HonoursContext(off) {
		t.Fatal("HonoursContext misreads ContextTimeoutEnabled")
	}
}

// A hung server (accepts, never answers) with go-redis default options must
// still give up at the deadline: the call is abandoned, not waited for.
func TestDeadlineOnHungServer(t *testing.T) {
	c := rediscall.New(redistest.Hung(t), 50*time.Millisecond)
	start := time.Now()
	err := c.Do(context.Background(), func(ctx context.Context) error {
		return redistest.Hung(t).Ping(ctx).Err()
	})
	if !errors.Is(err, rediscall.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// Not a timing assertion of speed: the only bound checked is the
	// go-redis default read timeout, which the call must not have waited for.
	if el := time.Since(start); el >= 3*time.Second {
		t.Fatalf("waited %v: the deadline was not enforced", el)
	}
}

func TestInlineSuccessAndError(t *testing.T) {
	srv := redistest.New(t)
	rdb := srv.Client()
	c := rediscall.New(rdb, 0)
	if c.Timeout() != rediscall.DefaultTimeout {
		t.Fatalf("timeout %v", c.Timeout())
	}
	key := srv.Key("x")
	if err := c.Do(context.Background(), func(ctx context.Context) error {
		return rdb.Set(ctx, key, "1", time.Minute).Err()
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := c.Do(context.Background(), func(context.Context) error { return boom }); err != boom {
		t.Fatalf("err = %v", err)
	}
}

// On an AutoPipeliner (either face), a call that sends only scripts
// through package script runs inline under DoScript and still ends at its
// deadline when Redis does not answer: the script waits with its context
// on the pipeliner's deferred face (and its reply is not read after the
// deadline, which would wait for it). A lost reply is not re-sent in a
// later batch either: the script runs once.
func TestDoScriptOnAutoPipeliner(t *testing.T) {
	t.Parallel()
	for _, face := range []string{redistest.Blocking, redistest.Deferred} {
		t.Run(face, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			var f redistest.Faults
			ap := redistest.AutoPipeline(t, srv.FaultyClient(&f), face)
			key := srv.Prefix + "n"
			incr := script.New("return redis.call('INCR', KEYS[1])")
			call := rediscall.New(ap, 100*time.Millisecond)
			run := func() (int64, error) {
				var n int64
				err := call.DoScript(context.Background(), func(ctx context.Context) error {
					var err error
					n, err = incr.Run(ctx, ap, []string{key}).Int64()
					return err
				})
				return n, err
			}
			if n, err := run(); err != nil || n != 1 {
				t.Fatalf("first call = %d, %v; want 1", n, err)
			}

			f.DropScriptReplies(1)
			if _, err := run(); err == nil {
				t.Fatal("a call whose reply was lost succeeded")
			}
			// The lost call ran once: 2. (Re-sent, it would make 3.)
			if got, err := srv.Client().Get(context.Background(), key).Int64(); err != nil || got != 2 {
				t.Fatalf("the counter is %d, %v after 2 calls; want 2", got, err)
			}

			f.StallScriptReplies(true)
			start := time.Now()
			_, err := run()
			took := time.Since(start)
			if !errors.Is(err, rediscall.ErrTimeout) {
				t.Fatalf("stalled call: %v; want ErrTimeout", err)
			}
			if took > 5*time.Second { // the faulty client's own read timeout is a minute
				t.Fatalf("stalled call answered after %v; the 100ms deadline was not kept", took)
			}
		})
	}
}
