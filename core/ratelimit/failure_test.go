package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// Against a Redis that never answers (hung) or refuses connections, each
// policy answers at once: fail open lets the request through, fail closed
// denies it, and the error reaches the hook and the logger. The clients use
// go-redis defaults, whose own read timeout is seconds long; the limiter's
// 50 ms deadline must be what ends the call.
func TestFailurePolicy(t *testing.T) {
	t.Parallel()
	targets := map[string]func(testing.TB) redis.UniversalClient{"hung": redistest.Hung, "refused": redistest.Refused}
	for name, mk := range targets {
		for _, closed := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/open", true: "/closed"}[closed], func(t *testing.T) {
				t.Parallel()
				var logs bytes.Buffer
				var hooked atomic.Int64
				l, err := ratelimit.New(mk(t), ratelimit.Options{
					Settings: core.Settings{
						Timeout: 50 * time.Millisecond,
						Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
						OnError: func(ctx context.Context, err error) {
							if errors.Is(err, ratelimit.ErrRedis) {
								hooked.Add(1)
							}
						},
					},
					Name:       "api",
					Limits:     []ratelimit.Limit{ratelimit.PerSecond(1)},
					FailClosed: closed,
				})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				res, err := l.Allow(context.Background(), "k")
				elapsed := time.Since(start)
				if !errors.Is(err, ratelimit.ErrRedis) {
					t.Fatalf("err = %v, want ErrRedis", err)
				}
				if name == "hung" && !errors.Is(err, rediscall.ErrTimeout) {
					t.Fatalf("err = %v, want a deadline error", err)
				}
				if res.Allowed == closed {
					t.Fatalf("Allowed = %v with FailClosed = %v", res.Allowed, closed)
				}
				if hooked.Load() != 1 {
					t.Fatalf("OnError called %d times", hooked.Load())
				}
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "ratelimit: redis call failed") {
					t.Fatalf("log = %q", logs.String())
				}
				// Generous bound, far under go-redis's own multi-second
				// timeouts: it fails only if our deadline was not applied.
				if elapsed > 2*time.Second {
					t.Fatalf("answered after %v; the 50ms deadline was not enforced", elapsed)
				}
			})
		}
	}
}

// A cancelled request context ends the call too, and is reported.
func TestCancelledContext(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(redistest.Hung(t), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(1)},
		Settings: core.Settings{Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := l.Allow(ctx, "k")
	if !errors.Is(err, context.Canceled) || !res.Allowed {
		t.Fatalf("res %+v err %v", res, err)
	}
}
