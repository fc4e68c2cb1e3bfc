package rediscall_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/rediscall"
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
