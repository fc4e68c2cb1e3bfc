package lock_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

func TestObtainRelease(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	rdb := srv.Client()
	ctx := context.Background()

	l, err := a.Obtain(ctx, "report:7", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := base64.RawURLEncoding.DecodeString(l.Token())
	if err != nil || len(tok) != 16 {
		t.Fatalf("token %q is not 128 bits of base64url: %v", l.Token(), err)
	}
	if l.Key() != "report:7" || l.Fence() <= 0 {
		t.Fatalf("key %q fence %d", l.Key(), l.Fence())
	}
	if got := raw(t, rdb, srv.Prefix, "report:7"); got != l.Token() {
		t.Fatalf("lock key holds %q, want the token %q", got, l.Token())
	}
	lk, fk := lock.KeysOf(srv.Prefix, "report:7")
	if ttl := rdb.PTTL(ctx, lk).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("lock key PTTL %v, want (0, 1m]", ttl)
	}
	// Every key has a TTL: the fence counter's is 24 hours.
	if ttl := rdb.PTTL(ctx, fk).Val(); ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Fatalf("fence counter PTTL %v, want about 24h", ttl)
	}

	if _, err := b.Obtain(ctx, "report:7", time.Minute, nil); err != lock.ErrNotObtained {
		t.Fatalf("second Obtain: %v, want ErrNotObtained", err)
	}
	if _, err := a.Obtain(ctx, "report:7", time.Minute, nil); err != lock.ErrNotObtained {
		t.Fatalf("the lock is not reentrant; Obtain by the same client: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := raw(t, rdb, srv.Prefix, "report:7"); got != "" {
		t.Fatalf("lock key still holds %q after Release", got)
	}
	if err := l.Release(ctx); err != lock.ErrNotHeld {
		t.Fatalf("second Release: %v, want ErrNotHeld", err)
	}
	l2, err := b.Obtain(ctx, "report:7", time.Minute, nil)
	if err != nil {
		t.Fatalf("Obtain after Release: %v", err)
	}
	if l2.Token() == l.Token() || l2.Fence() <= l.Fence() {
		t.Fatalf("second acquisition: token %q (first %q), fence %d (first %d)", l2.Token(), l.Token(), l2.Fence(), l.Fence())
	}
}

// A key a client controls is escaped: it cannot forge a hash tag, and two
// keys that differ only in special characters stay apart.
func TestKeysAreEscaped(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	for _, key := range []string{"{x}", "%7Bx%7D", "", "a*b"} {
		l, err := c.Obtain(ctx, key, time.Minute, nil)
		if err != nil {
			t.Fatalf("Obtain(%q): %v", key, err)
		}
		lk, _ := lock.KeysOf(srv.Prefix, key)
		if strings.Count(lk, "{") != 1 || !strings.HasPrefix(lk, srv.Prefix+"lock:") {
			t.Fatalf("key %q became %q", key, lk)
		}
		if got := raw(t, srv.Client(), srv.Prefix, key); got != l.Token() {
			t.Fatalf("key %q: lock holds %q", key, got)
		}
	}
}

func TestNonOwnerIsRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	l, err := c.Obtain(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := lock.Forge(l, "not-the-owner")
	if err := other.Release(ctx); err != lock.ErrNotHeld {
		t.Fatalf("Release by a non-owner: %v, want ErrNotHeld", err)
	}
	if err := other.Refresh(ctx, time.Hour); err != lock.ErrNotHeld {
		t.Fatalf("Refresh by a non-owner: %v, want ErrNotHeld", err)
	}
	if ttl, err := other.TTL(ctx); err != nil || ttl != 0 {
		t.Fatalf("TTL seen by a non-owner: %v, %v; want 0", ttl, err)
	}
	// The owner still holds it, with its own TTL.
	if ttl, err := l.TTL(ctx); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("owner's TTL %v, %v", ttl, err)
	}
	if got := raw(t, srv.Client(), srv.Prefix, "k"); got != l.Token() {
		t.Fatalf("lock key holds %q after the non-owner's attempts", got)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("owner's Release: %v", err)
	}
}

// An owner whose lock expired cannot release or refresh it, and in
// particular cannot release it from under the next owner.
func TestExpiredOwnerIsRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	ctx := context.Background()
	// A long TTL, run out on purpose: a short one could run out before a
	// slow first call even answers, and Obtain would fail.
	l, err := a.Obtain(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	expireNow(t, srv, l)
	if err := l.Release(ctx); err != lock.ErrNotHeld {
		t.Fatalf("Release after expiry: %v, want ErrNotHeld", err)
	}
	if err := l.Refresh(ctx, time.Minute); err != lock.ErrNotHeld {
		t.Fatalf("Refresh after expiry: %v, want ErrNotHeld", err)
	}
	next, err := b.Obtain(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatalf("Obtain after expiry: %v", err)
	}
	if err := l.Release(ctx); err != lock.ErrNotHeld {
		t.Fatalf("the old owner's Release: %v, want ErrNotHeld", err)
	}
	if got := raw(t, srv.Client(), srv.Prefix, "k"); got != next.Token() {
		t.Fatalf("the new owner lost its lock to the old owner's Release: key holds %q", got)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	l, err := c.Obtain(ctx, "k", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl, err := l.TTL(ctx); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL after Refresh(1h): %v, %v", ttl, err)
	}
	// Refresh(0) refreshes by the lock's current TTL, now an hour.
	if err := l.Refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ttl, err := l.TTL(ctx); err != nil || ttl <= 59*time.Minute {
		t.Fatalf("TTL after Refresh(0): %v, %v", ttl, err)
	}
	if err := l.Refresh(ctx, -time.Second); err == nil || errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Refresh(-1s): %v, want a validation error", err)
	}
}

// Fencing tokens grow strictly with every acquisition of a key, from any
// client, and keep growing after the fence counter has expired.
func TestFencingTokensIncrease(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clients := []*lock.Client{newClient(t, srv), newClient(t, srv), newClient(t, srv)}
	rdb := srv.Client()
	ctx := context.Background()
	var last int64
	tokens := map[string]bool{}
	obtain := func(i int) {
		t.Helper()
		l, err := clients[i%len(clients)].Obtain(ctx, "ledger", time.Minute, nil)
		if err != nil {
			t.Fatalf("acquisition %d: %v", i, err)
		}
		if l.Fence() <= last {
			t.Fatalf("acquisition %d: fence %d, previous %d", i, l.Fence(), last)
		}
		if tokens[l.Token()] {
			t.Fatalf("acquisition %d: token %q reused", i, l.Token())
		}
		tokens[l.Token()] = true
		last = l.Fence()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		obtain(i)
	}
	// The counter expires (24h without an acquisition): simulated by DEL.
	_, fk := lock.KeysOf(srv.Prefix, "ledger")
	for i := 100; i < 105; i++ {
		if err := rdb.Del(ctx, fk).Err(); err != nil {
			t.Fatal(err)
		}
		obtain(i)
	}
	// The server clock stepping back is absorbed by the counter.
	if mr := srv.Miniredis(); mr != nil {
		mr.SetTime(time.Unix(1_000_000_000, 0))
		before := last
		obtain(105)
		if last != before+1 {
			t.Fatalf("with the clock behind, fence %d, want counter+1 = %d", last, before+1)
		}
	}
}

// Options.Clock replaces the server's TIME as the floor of fencing tokens.
func TestFenceWithClock(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	at := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := lock.New(srv.Client(), lock.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: testTimeout}, Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := int64(0); i < 3; i++ {
		l, err := c.Obtain(ctx, "k", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := at.UnixMicro() + i; l.Fence() != want {
			t.Fatalf("acquisition %d: fence %d, want %d", i, l.Fence(), want)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Against a Redis that accepts connections and never answers, with go-redis
// default options (read timeout of seconds), Obtain fails with a deadline
// error after Options.Timeout, not ErrNotObtained.
func TestObtainDeadline(t *testing.T) {
	t.Parallel()
	c, err := lock.New(redistest.Hung(t), lock.Options{Settings: core.Settings{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Obtain(context.Background(), "k", time.Minute, &lock.ObtainOptions{Retry: lock.LinearRetry(time.Millisecond, time.Minute)})
	if !errors.Is(err, rediscall.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	// Generous bound, far under go-redis's own timeouts: it fails only if
	// the deadline was not applied, or if a failure were retried.
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Obtain returned after %v", el)
	}
}

func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	var zero lock.Client
	if _, err := zero.Obtain(context.Background(), "k", time.Minute, nil); err == nil {
		t.Fatal("Obtain on a zero Client succeeded")
	}
	srv := redistest.New(t)
	c := newClient(t, srv)
	for _, ttl := range []time.Duration{0, -time.Second, 999 * time.Microsecond} {
		if _, err := c.Obtain(context.Background(), "k", ttl, nil); err == nil || errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("Obtain with ttl %v: %v, want a validation error", ttl, err)
		}
	}
}

// countingRetry wraps a strategy, counting its calls and running a hook.
type countingRetry struct {
	lock.RetryStrategy
	calls  int
	onCall func(attempts int)
}

func (r *countingRetry) NextBackoff(attempts int, elapsed time.Duration) (time.Duration, bool) {
	r.calls++
	if r.onCall != nil {
		r.onCall(attempts)
	}
	return r.RetryStrategy.NextBackoff(attempts, elapsed)
}

// Obtain keeps trying while the lock is held and gets it once released.
// The holder releases from inside the strategy, after the second failed
// attempt, so the retry path is taken without any guess about timing.
func TestObtainRetriesUntilReleased(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	ctx := context.Background()
	held, err := a.Obtain(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	retry := &countingRetry{RetryStrategy: lock.LinearRetry(time.Millisecond, time.Minute), onCall: func(attempts int) {
		if attempts == 2 {
			if err := held.Release(ctx); err != nil {
				t.Error(err)
			}
		}
	}}
	l, err := b.Obtain(ctx, "k", time.Minute, &lock.ObtainOptions{Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	if retry.calls != 2 {
		t.Fatalf("obtained after %d failed attempts, want 2", retry.calls)
	}
	if l.Fence() <= held.Fence() {
		t.Fatalf("fence %d after %d", l.Fence(), held.Fence())
	}
}

// The retry strategy's maxWait ends the waiting, whatever the TTL.
func TestObtainGivesUpAtMaxWait(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	ctx := context.Background()
	if _, err := a.Obtain(ctx, "k", time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	retry := &countingRetry{RetryStrategy: lock.LinearRetry(10*time.Millisecond, 150*time.Millisecond)}
	start := time.Now()
	_, err := b.Obtain(ctx, "k", time.Hour, &lock.ObtainOptions{Retry: retry})
	if err != lock.ErrNotObtained {
		t.Fatalf("err = %v, want ErrNotObtained", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 10*time.Second {
		t.Fatalf("gave up after %v, want maxWait (150ms) or a little more", el)
	}
	if retry.calls < 1 {
		t.Fatal("the strategy was not asked")
	}
}

// The context's deadline ends the waiting too, reported as ErrNotObtained
// wrapping the context's error.
func TestObtainStopsAtContextDeadline(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	if _, err := a.Obtain(context.Background(), "k", time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := b.Obtain(ctx, "k", time.Hour, &lock.ObtainOptions{Retry: lock.ExponentialRetry(time.Millisecond, 20*time.Millisecond, time.Hour)})
	if !errors.Is(err, lock.ErrNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNotObtained and DeadlineExceeded", err)
	}
}

// So does cancelling it; here from inside the strategy, after the second
// failed attempt, so the wait is what the cancellation interrupts.
func TestObtainStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a, b := newClient(t, srv), newClient(t, srv)
	if _, err := a.Obtain(context.Background(), "k", time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	retry := &countingRetry{RetryStrategy: lock.LinearRetry(time.Millisecond, time.Hour), onCall: func(attempts int) {
		if attempts == 2 {
			cancel()
		}
	}}
	_, err := b.Obtain(ctx, "k", time.Hour, &lock.ObtainOptions{Retry: retry})
	if !errors.Is(err, lock.ErrNotObtained) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrNotObtained and Canceled", err)
	}
	if retry.calls != 2 {
		t.Fatalf("strategy asked %d times, want 2", retry.calls)
	}
}
