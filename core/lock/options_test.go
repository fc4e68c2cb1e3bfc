package lock_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// New and NewRedlock reject what cannot work with an error that names it
// and wraps core.ErrConfig, and accept the rest.
func TestNewValidation(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := srv.Client(), redistest.Hung(t)
	badProxy := lock.Options{Settings: core.Settings{TrustedProxies: []string{"nope"}}}
	shortSecret := lock.Options{Settings: core.Settings{Secret: []byte("short")}}
	for _, tc := range []struct {
		name string
		make func() error
		want string // "" means valid
	}{
		{"nil client", func() error { _, err := lock.New(nil, lock.Options{}); return err }, "nil Redis client"},
		{"bad trusted proxy", func() error { _, err := lock.New(a, badProxy); return err }, "Settings.TrustedProxies"},
		{"short secret", func() error { _, err := lock.New(a, shortSecret); return err }, "Settings.Secret"},
		{"Redlock of none", func() error { _, err := lock.NewRedlock(nil, lock.Options{}); return err }, "at least one Redis client"},
		{"Redlock nil client", func() error {
			_, err := lock.NewRedlock([]redis.UniversalClient{a, nil}, lock.Options{})
			return err
		}, "Redis client 1 is nil"},
		{"Redlock client twice", func() error {
			_, err := lock.NewRedlock([]redis.UniversalClient{a, b, a}, lock.Options{})
			return err
		}, "Redis client 2 appears twice"},
		{"Redlock bad trusted proxy", func() error {
			_, err := lock.NewRedlock([]redis.UniversalClient{a, b}, badProxy)
			return err
		}, "Settings.TrustedProxies"},
		{"zero value", func() error { _, err := lock.New(a, lock.Options{}); return err }, ""},
		{"clock", func() error { _, err := lock.New(a, lock.Options{Clock: time.Now}); return err }, ""},
		{"Redlock", func() error { _, err := lock.NewRedlock([]redis.UniversalClient{a, b}, lock.Options{}); return err }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, core.ErrConfig) || !strings.HasPrefix(err.Error(), "lock: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v: want one wrapping core.ErrConfig that says %q", err, tc.want)
			}
		})
	}
}

// reports collects what a lock passes to Settings.Logger and
// Settings.OnError.
type reports struct {
	mu   sync.Mutex
	logs strings.Builder
	errs []error
}

func (r *reports) settings() core.Settings {
	return core.Settings{
		Timeout: testTimeout,
		Logger:  slog.New(slog.NewTextHandler(lockedWriter{r}, nil)),
		OnError: func(ctx context.Context, err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() },
	}
}

func (r *reports) get() (string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String(), append([]error(nil), r.errs...)
}

type lockedWriter struct{ r *reports }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.logs.Write(p)
}

// stoppable returns a client on a miniredis of its own, which the test
// can stop.
func stoppable(t *testing.T) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	return mr, rdb
}

// A release that fails at the end of Do is not Do's error (fn's work is
// done, and the lock expires by itself), but it is logged at warn level,
// without the lock's name, and passed to Settings.OnError.
func TestDoReportsFailedRelease(t *testing.T) {
	t.Parallel()
	mr, rdb := stoppable(t)
	var rep reports
	c, err := lock.New(rdb, lock.Options{Settings: rep.settings()})
	if err != nil {
		t.Fatal(err)
	}
	const name = "secret-lock-name"
	err = c.Do(context.Background(), name, time.Minute, nil, func(context.Context) error {
		mr.Close() // Redis goes away before the release
		return nil
	})
	if err != nil {
		t.Fatalf("Do = %v, want fn's nil", err)
	}
	logs, errs := rep.get()
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "lock: release: ") || errors.Is(errs[0], lock.ErrNotHeld) {
		t.Fatalf("OnError got %v", errs)
	}
	if !strings.Contains(logs, "level=WARN") || strings.Contains(logs, name) {
		t.Fatalf("logs: want a warning without the lock's name: %s", logs)
	}
}

// A lock lost at release is Do's error, not a report.
func TestDoLostIsNotReported(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var rep reports
	s := rep.settings()
	s.Prefix = srv.Prefix
	c, err := lock.New(srv.Client(), lock.Options{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(context.Background(), "k", time.Minute, nil, func(context.Context) error {
		lk, _ := lock.KeysOf(srv.Prefix, "k")
		return srv.Client().Del(context.Background(), lk).Err()
	})
	if !errors.Is(err, lock.ErrLost) {
		t.Fatalf("Do = %v, want ErrLost", err)
	}
	if logs, errs := rep.get(); len(errs) != 0 || logs != "" {
		t.Fatalf("reported %v: %s", errs, logs)
	}
}

// A refresh that fails while Redis is away is retried and reported, each
// time, until the validity runs out and the lock is declared lost.
func TestAutoRefreshReportsErrors(t *testing.T) {
	t.Parallel()
	mr, rdb := stoppable(t)
	var rep reports
	c, err := lock.New(rdb, lock.Options{Settings: rep.settings()})
	if err != nil {
		t.Fatal(err)
	}
	const name = "secret-lock-name"
	l, err := c.Obtain(context.Background(), name, time.Second, nil)
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
	stop()
	logs, errs := rep.get()
	if len(errs) == 0 {
		t.Fatal("no refresh failure was reported")
	}
	for _, err := range errs {
		if !strings.HasPrefix(err.Error(), "lock: refresh: ") || strings.Contains(err.Error(), name) {
			t.Fatalf("OnError got %v", err)
		}
	}
	if strings.Count(logs, "level=WARN") != len(errs) || strings.Contains(logs, name) {
		t.Fatalf("logs: want one warning per failure, without the lock's name: %s", logs)
	}
}
