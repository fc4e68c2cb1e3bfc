package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// A lock stays held through several times its TTL while AutoRefresh runs,
// and stop does not release it. Time passes in steps of half the TTL, each
// once a refresh was seen: on miniredis its clock moves by the steps
// alone, so only a refresh that never comes could let the lock expire; on
// a real server the wall clock moves, and only a refresher stalled for
// nine tenths of the TTL could.
func TestAutoRefreshKeepsLockAlive(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	rdb := srv.Client()
	const ttl = time.Second
	l, err := c.Obtain(context.Background(), "k", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := l.AutoRefresh(context.Background(), ttl/10)
	var passed time.Duration
	for passed <= 2*ttl {
		waitRefreshed(t, l, ttl*3/4)
		if mr := srv.Miniredis(); mr != nil {
			mr.FastForward(ttl / 2)
		} else {
			time.Sleep(ttl / 2)
		}
		passed += ttl / 2
		if got := raw(t, rdb, srv.Prefix, "k"); got != l.Token() {
			t.Fatalf("after %v the lock key holds %q", passed, got)
		}
		if ctx.Err() != nil {
			t.Fatalf("after %v the lock context ended: %v", passed, context.Cause(ctx))
		}
	}
	stop()
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatalf("after stop the cause is %v, want context.Canceled", context.Cause(ctx))
	}
	stop() // a second call is harmless
	if ttl, err := l.TTL(context.Background()); err != nil || ttl <= 0 {
		t.Fatalf("stop released the lock: TTL %v, %v", ttl, err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Deleting the lock behind the owner's back is noticed by the next refresh:
// the lock context ends with cause ErrLost.
func TestAutoRefreshLostWhenKeyDeleted(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	l, err := c.Obtain(context.Background(), "k", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := l.AutoRefresh(context.Background(), 0)
	defer stop()
	lk, _ := lock.KeysOf(srv.Prefix, "k")
	if err := srv.Client().Del(context.Background(), lk).Err(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, ctx)
	if !errors.Is(context.Cause(ctx), lock.ErrLost) {
		t.Fatalf("cause %v, want ErrLost", context.Cause(ctx))
	}
}

// When Redis stops answering, no refresh succeeds, and the lock context
// ends when the validity runs out, not at some later refresh attempt.
func TestAutoRefreshLostWhenRedisUnreachable(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	c, err := lock.New(rdb, lock.Options{Settings: core.Settings{Timeout: testTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	const ttl = time.Second // long enough for the first call, however slow
	before := time.Now()
	l, err := c.Obtain(context.Background(), "k", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := l.AutoRefresh(context.Background(), 100*time.Millisecond)
	defer stop()
	mr.Close()
	waitDone(t, ctx)
	if !errors.Is(context.Cause(ctx), lock.ErrLost) {
		t.Fatalf("cause %v, want ErrLost", context.Cause(ctx))
	}
	// Not a speed assertion: the validity can only have been moved later.
	if el := time.Since(before); el < ttl {
		t.Fatalf("declared lost after %v, before its validity of %v ran out", el, ttl)
	}
}

// The lock context follows its parent: cancelling the parent ends it with
// the parent's cause, not ErrLost, and stops the refreshing.
func TestAutoRefreshFollowsParent(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	l, err := c.Obtain(context.Background(), "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	parent, cancel := context.WithCancel(context.Background())
	ctx, stop := l.AutoRefresh(parent, 0)
	cancel()
	waitDone(t, ctx)
	stop()
	if errors.Is(context.Cause(ctx), lock.ErrLost) {
		t.Fatal("a cancelled parent was reported as a lost lock")
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}
