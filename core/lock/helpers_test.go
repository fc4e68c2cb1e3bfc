package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// testTimeout is the per-call deadline of the clients in tests that are not
// about deadlines: many goroutines at once under -race on two cores must
// not turn into spurious timeouts.
const testTimeout = 10 * time.Second

// newClient returns a lock Client on its own Redis client (its own pool),
// as one app server would have.
func newClient(t testing.TB, srv *redistest.Server) *lock.Client {
	t.Helper()
	c, err := lock.New(srv.Client(), lock.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: testTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// raw returns the value of the lock key of key, "" if there is none.
func raw(t testing.TB, rdb redis.UniversalClient, prefix, key string) string {
	t.Helper()
	lk, _ := lock.KeysOf(prefix, key)
	v, err := rdb.Get(context.Background(), lk).Result()
	if err == redis.Nil {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// realTime makes miniredis expire keys as the wall clock passes, as a real
// Redis does (miniredis only expires keys on FastForward). It does nothing
// on a real server.
func realTime(t testing.TB, srv *redistest.Server) {
	if mr := srv.Miniredis(); mr != nil {
		pumpTTLs(t, mr)
	}
}

func pumpTTLs(t testing.TB, mr *miniredis.Miniredis) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	})
	t.Cleanup(func() { close(quit); wg.Wait() })
}

// waitExpired returns once l's key has expired: at once on miniredis (by
// moving its clock), by polling on a real server.
func waitExpired(t testing.TB, srv *redistest.Server, l *lock.Lock) {
	t.Helper()
	if mr := srv.Miniredis(); mr != nil {
		ttl, err := l.TTL(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		mr.FastForward(ttl + time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ttl, err := l.TTL(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ttl == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %q still has %v to live after 10s", l.Key(), ttl)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDone waits for ctx to end, failing the test after a generous 10s.
func waitDone(t testing.TB, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the lock context was not cancelled within 10s")
	}
}
