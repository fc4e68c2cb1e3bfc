package lock_test

import (
	"context"
	"testing"
	"time"

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

// expireNow makes l's key expire now, whatever its TTL, and returns once
// Redis has dropped it: the expiry of a lock whose owner stalled, with no
// wall-clock timing in the test. It waits for the key to be gone, not for
// its TTL to read 0: PTTL says 0 during the key's last millisecond, when
// the owner's Release would still delete it.
func expireNow(t testing.TB, srv *redistest.Server, l *lock.Lock) {
	t.Helper()
	lk, _ := lock.KeysOf(srv.Prefix, l.Key())
	rdb := srv.Client()
	ctx := context.Background()
	if err := rdb.PExpire(ctx, lk, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if mr := srv.Miniredis(); mr != nil {
		mr.FastForward(time.Millisecond) // miniredis expires keys only when told
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := rdb.Exists(ctx, lk).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %q still exists 10s after its TTL was set to 1ms", l.Key())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitRefreshed polls until l's TTL exceeds above, which after its TTL
// was run down means a refresh came; it fails the test after 10s.
func waitRefreshed(t testing.TB, l *lock.Lock, above time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ttl, err := l.TTL(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ttl > above {
			return
		}
		if ttl == 0 {
			t.Fatalf("lock %q lost while waiting for a refresh", l.Key())
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %q not refreshed within 10s: TTL %v", l.Key(), ttl)
		}
		time.Sleep(5 * time.Millisecond)
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
