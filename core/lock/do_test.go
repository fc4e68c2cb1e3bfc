package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// mustBeFree checks that key can be obtained (and releases it again).
func mustBeFree(t *testing.T, c *lock.Client, key string) {
	t.Helper()
	l, err := c.Obtain(context.Background(), key, time.Minute, nil)
	if err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDoHoldsTheLockWhileFnRuns(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	ran := false
	err := a.Do(context.Background(), "job", time.Minute, nil, func(ctx context.Context) error {
		ran = true
		if _, err := b.Obtain(ctx, "job", time.Minute, nil); err != lock.ErrNotObtained {
			t.Errorf("Obtain inside Do: %v, want ErrNotObtained", err)
		}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("Do = %v, ran %v", err, ran)
	}
	mustBeFree(t, b, "job")
}

func TestDoReturnsFnError(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	boom := errors.New("boom")
	err := c.Do(context.Background(), "job", time.Minute, nil, func(context.Context) error { return boom })
	if err != boom {
		t.Fatalf("Do = %v, want fn's error", err)
	}
	mustBeFree(t, c, "job")
}

func TestDoOnHeldKey(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	if _, err := a.Obtain(context.Background(), "job", time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	err := b.Do(context.Background(), "job", time.Minute, &lock.ObtainOptions{Retry: lock.NoRetry()}, func(context.Context) error {
		t.Error("fn ran without the lock")
		return nil
	})
	if err != lock.ErrNotObtained {
		t.Fatalf("Do = %v, want ErrNotObtained", err)
	}
}

// A panic in fn still releases the lock, and goes on to the caller.
func TestDoReleasesOnPanic(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want the panic of fn", p)
			}
		}()
		_ = c.Do(context.Background(), "job", time.Minute, nil, func(context.Context) error { panic("kaboom") })
		t.Fatal("Do swallowed the panic")
	}()
	mustBeFree(t, c, "job")
}

// The lock is released even when the caller's context has ended.
func TestDoReleasesAfterCancel(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	err := c.Do(ctx, "job", time.Minute, nil, func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatalf("Do = %v", err)
	}
	mustBeFree(t, c, "job")
}

// A lock lost while fn runs ends fn's context with cause ErrLost, and Do
// reports it together with fn's error.
func TestDoReportsLostLock(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	rdb := srv.Client()
	lk, _ := lock.KeysOf(srv.Prefix, "job")
	// Long enough for the first call, however slow; refreshed every 500ms.
	err := c.Do(context.Background(), "job", 1500*time.Millisecond, nil, func(ctx context.Context) error {
		if err := rdb.Del(ctx, lk).Err(); err != nil {
			return err
		}
		waitDone(t, ctx)
		if !errors.Is(context.Cause(ctx), lock.ErrLost) {
			t.Errorf("fn's context cause %v, want ErrLost", context.Cause(ctx))
		}
		return ctx.Err()
	})
	if !errors.Is(err, lock.ErrLost) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want ErrLost joined with fn's error", err)
	}
}

// A lock deleted while fn runs, and not noticed by a refresh before fn
// returns, is reported lost by the release that finds it gone.
func TestDoReportsLockGoneAtRelease(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	rdb := srv.Client()
	lk, _ := lock.KeysOf(srv.Prefix, "job")
	err := c.Do(context.Background(), "job", time.Hour, nil, func(ctx context.Context) error {
		return rdb.Del(ctx, lk).Err()
	})
	if !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Do = %v, want ErrLost", err)
	}
}
