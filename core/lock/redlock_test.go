package lock_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// Redlock needs several independent masters, which one configured Redis
// or Cluster cannot stand for; these tests always run on miniredis servers
// of their own, whatever the environment selects.

// redlockOpts gives each call a deadline generous enough for many tests at
// once under -race; the per-node limit of a tenth of the TTL still applies.
var redlockOpts = lock.Options{Settings: core.Settings{Timeout: testTimeout}}

// masters starts n miniredis servers.
func masters(t *testing.T, n int) []*miniredis.Miniredis {
	t.Helper()
	var ms []*miniredis.Miniredis
	for i := 0; i < n; i++ {
		ms = append(ms, miniredis.RunT(t))
	}
	return ms
}

// clientsOf returns one new client per master: what one app server holds.
func clientsOf(t *testing.T, ms []*miniredis.Miniredis) []redis.UniversalClient {
	t.Helper()
	var cs []redis.UniversalClient
	for _, m := range ms {
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		cs = append(cs, c)
	}
	return cs
}

func newRedlock(t *testing.T, clients []redis.UniversalClient, opts lock.Options) *lock.Redlock {
	t.Helper()
	r, err := lock.NewRedlock(clients, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// holders returns what each master's lock key of key holds ("" for none,
// "closed" for a closed master).
func holders(t *testing.T, ms []*miniredis.Miniredis, key string) []string {
	t.Helper()
	lk, _ := lock.KeysOf("", key)
	var out []string
	for _, m := range ms {
		v, err := m.Get(lk)
		switch {
		case errors.Is(err, miniredis.ErrKeyNotFound):
			v = ""
		case err != nil:
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func count(vs []string, v string) int {
	n := 0
	for _, x := range vs {
		if x == v {
			n++
		}
	}
	return n
}

func TestRedlockObtainRelease(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	r := newRedlock(t, clientsOf(t, ms), redlockOpts)
	ctx := context.Background()
	l, err := r.Obtain(ctx, "k", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hs := holders(t, ms, "k"); count(hs, l.Token()) != 5 {
		t.Fatalf("masters hold %q, want the token on all 5", hs)
	}
	// The fence is the largest of the masters' counters.
	_, fk := lock.KeysOf("", "k")
	var top int64
	for _, m := range ms {
		v, err := m.Get(fk)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("fence counter %q: %v", v, err)
		}
		top = max(top, n)
	}
	if l.Fence() != top || top <= 0 {
		t.Fatalf("fence %d, masters' largest counter %d", l.Fence(), top)
	}
	if ttl, err := l.TTL(ctx); err != nil || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("TTL %v, %v", ttl, err)
	}
	if err := l.Refresh(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl, err := l.TTL(ctx); err != nil || ttl <= 59*time.Minute {
		t.Fatalf("TTL after Refresh(1h): %v, %v", ttl, err)
	}
	if _, err := newRedlock(t, clientsOf(t, ms), redlockOpts).Obtain(ctx, "k", 10*time.Second, nil); err != lock.ErrNotObtained {
		t.Fatalf("second Obtain: %v, want ErrNotObtained", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if hs := holders(t, ms, "k"); count(hs, "") != 5 {
		t.Fatalf("after Release masters hold %q", hs)
	}
	if err := l.Release(ctx); err != lock.ErrNotHeld {
		t.Fatalf("second Release: %v, want ErrNotHeld", err)
	}
}

// With 2 of 5 masters down the quorum of 3 is still met.
func TestRedlockMinorityDown(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	r := newRedlock(t, clientsOf(t, ms), redlockOpts)
	ms[0].Close()
	ms[3].Close()
	ctx := context.Background()
	l, err := r.Obtain(ctx, "k", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := []*miniredis.Miniredis{ms[1], ms[2], ms[4]}
	if hs := holders(t, live, "k"); count(hs, l.Token()) != 3 {
		t.Fatalf("live masters hold %q", hs)
	}
	if err := l.Refresh(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if hs := holders(t, live, "k"); count(hs, "") != 3 {
		t.Fatalf("after Release live masters hold %q", hs)
	}
}

// With 3 of 5 masters down there is no quorum: Obtain fails, and leaves
// nothing held on the 2 live masters.
func TestRedlockNoQuorum(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	r := newRedlock(t, clientsOf(t, ms), redlockOpts)
	for _, i := range []int{0, 2, 4} {
		ms[i].Close()
	}
	_, err := r.Obtain(context.Background(), "k", 10*time.Second, &lock.ObtainOptions{Retry: lock.LinearRetry(5*time.Millisecond, 30*time.Millisecond)})
	if !errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("err = %v, want ErrNotObtained", err)
	}
	if hs := holders(t, []*miniredis.Miniredis{ms[1], ms[3]}, "k"); count(hs, "") != 2 {
		t.Fatalf("after a failed Obtain live masters hold %q", hs)
	}
}

// A split vote: whoever holds 3 masters holds the lock; a contender that
// gets only the other 2 gives them back.
func TestRedlockSplitVote(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	lk, _ := lock.KeysOf("", "k")
	for _, m := range ms[:3] {
		if err := m.Set(lk, "someone-else"); err != nil {
			t.Fatal(err)
		}
	}
	r := newRedlock(t, clientsOf(t, ms), redlockOpts)
	if _, err := r.Obtain(context.Background(), "k", 10*time.Second, nil); err != lock.ErrNotObtained {
		t.Fatalf("err = %v, want ErrNotObtained", err)
	}
	if hs := holders(t, ms, "k"); count(hs, "someone-else") != 3 || count(hs, "") != 2 {
		t.Fatalf("masters hold %q, want the other owner's 3 and nothing else", hs)
	}
	// Two masters held by another owner still leave a quorum.
	ms[0].Del(lk)
	l, err := r.Obtain(context.Background(), "k", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hs := holders(t, ms, "k"); count(hs, l.Token()) != 3 {
		t.Fatalf("masters hold %q", hs)
	}
}

// Masters that accept connections and never answer cost each call no more
// than its deadline, and a quorum of live ones still grants the lock.
func TestRedlockHungMinority(t *testing.T) {
	t.Parallel()
	ms := masters(t, 3)
	clients := append(clientsOf(t, ms), redistest.Hung(t), redistest.Hung(t))
	// 2s per call: the live nodes must answer even on a loaded CI machine.
	r := newRedlock(t, clients, lock.Options{Settings: core.Settings{Timeout: 2 * time.Second}})
	start := time.Now()
	l, err := r.Obtain(context.Background(), "k", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Generous: two calls of at most 2s each; go-redis alone would wait
	// its 5s read timeout per attempt, and retry.
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Obtain and Release took %v: the deadlines were not applied", el)
	}
}

// Three Redlocks (three app servers, each with its own clients) and 12
// goroutines contend for one lock: exactly one gets it. Without retries a
// split vote can leave no winner at all; with jittered retries someone
// wins, and then cancels the others' waiting.
func TestRedlockOneWinnerUnderContention(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	var lockers []obtainer
	for i := 0; i < 3; i++ {
		lockers = append(lockers, newRedlock(t, clientsOf(t, ms), redlockOpts))
	}
	retry := lock.ExponentialRetry(2*time.Millisecond, 50*time.Millisecond, time.Minute)
	if won, lost := race(t, lockers, 12, retry, true); won != 1 || lost != 11 {
		t.Fatalf("%d obtained and %d refused, want exactly 1 and 11", won, lost)
	}
}

func TestRedlockMutualExclusion(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	var lockers []obtainer
	for i := 0; i < 3; i++ {
		lockers = append(lockers, newRedlock(t, clientsOf(t, ms), redlockOpts))
	}
	exclusion(t, lockers, 4, 3)
}

// Losing the lock on a majority of masters is losing it: Refresh says
// ErrNotHeld, TTL says 0, and AutoRefresh's context ends with ErrLost.
func TestRedlockLostOnMajority(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	r := newRedlock(t, clientsOf(t, ms), redlockOpts)
	ctx := context.Background()
	l, err := r.Obtain(ctx, "k", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	lctx, stop := l.AutoRefresh(ctx, 0)
	defer stop()
	lk, _ := lock.KeysOf("", "k")
	for _, m := range ms[:3] {
		m.Del(lk)
	}
	waitDone(t, lctx)
	if !errors.Is(context.Cause(lctx), lock.ErrLost) {
		t.Fatalf("cause %v, want ErrLost", context.Cause(lctx))
	}
	if err := l.Refresh(ctx, 0); err != lock.ErrNotHeld {
		t.Fatalf("Refresh: %v, want ErrNotHeld", err)
	}
	if ttl, err := l.TTL(ctx); err != nil || ttl != 0 {
		t.Fatalf("TTL: %v, %v; want 0", ttl, err)
	}
}

func TestRedlockDo(t *testing.T) {
	t.Parallel()
	ms := masters(t, 5)
	r := newRedlock(t, clientsOf(t, ms), redlockOpts)
	boom := errors.New("boom")
	err := r.Do(context.Background(), "job", 10*time.Second, nil, func(ctx context.Context) error {
		if hs := holders(t, ms, "job"); count(hs, "") != 0 {
			t.Errorf("inside Do masters hold %q", hs)
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Do = %v, want fn's error", err)
	}
	if hs := holders(t, ms, "job"); count(hs, "") != 5 {
		t.Fatalf("after Do masters hold %q", hs)
	}
}

func TestNewRedlockValidation(t *testing.T) {
	t.Parallel()
	ms := masters(t, 2)
	cs := clientsOf(t, ms)
	for name, clients := range map[string][]redis.UniversalClient{
		"none":      nil,
		"nil":       {cs[0], nil},
		"duplicate": {cs[0], cs[1], cs[0]},
	} {
		if _, err := lock.NewRedlock(clients, redlockOpts); err == nil {
			t.Errorf("%s: NewRedlock succeeded", name)
		}
	}
}
