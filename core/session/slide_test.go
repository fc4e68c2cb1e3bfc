package session

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

// A session read in a burst is slid (last seen and TTL rewritten) once, not
// on every request: within a second of its last slide a read writes
// nothing. The idle expiry then counts from the slide, so the session ends
// at most that second early, never late; and it slides whenever the cookie's
// Max-Age is renewed (a new tenth of IdleTimeout), so the two agree.
func TestSlideAtMostOncePerSecond(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	start := time.UnixMilli(1_800_000_000_000) // a multiple of a minute
	clk := &clock{now: start}
	m := newManager(t, srv, func(o *Options) {
		o.Clock, o.IdleTimeout, o.Lifetime = clk.Now, 10*time.Minute, time.Hour
	})
	c := &client{t: t, m: m, h: app(t)}
	c.do("/put?a=1")
	key := m.key(mustRef(t, c.cookie))
	ctx := context.Background()
	seen := func() int64 {
		t.Helper()
		v, err := rdb.HGet(ctx, key, fSeen).Result()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	read := func(want string) {
		t.Helper()
		if got := c.do("/get?k=a").Body.String(); got != want {
			t.Fatalf("at +%v: read %q, want %q", clk.Now().Sub(start), got, want)
		}
	}
	if got := seen(); got != start.UnixMilli() {
		t.Fatalf("last seen %d after the first write, want %d", got, start.UnixMilli())
	}
	// A burst within the second: read, but nothing written.
	for range 5 {
		clk.Add(150 * time.Millisecond)
		read("1")
		if got := seen(); got != start.UnixMilli() {
			t.Fatalf("at +%v: last seen moved to %d within a second of the last slide", clk.Now().Sub(start), got)
		}
	}
	// A second after the slide: slid again.
	clk.Add(250 * time.Millisecond) // +1s
	read("1")
	if got, want := seen(), start.Add(time.Second).UnixMilli(); got != want {
		t.Fatalf("last seen %d a second after the slide, want %d", got, want)
	}
	// Incr in the burst adds, and does not slide.
	clk.Add(400 * time.Millisecond)
	if got := c.do("/incr?k=n").Body.String(); got != "1" {
		t.Fatalf("incr %q", got)
	}
	if got, want := seen(), start.Add(time.Second).UnixMilli(); got != want {
		t.Fatalf("incr within the second slid: last seen %d, want %d", got, want)
	}
	// Idle expiry counts from the slide: the request at +1.4s did not
	// move it, so the session ends 10 minutes after +1s.
	clk.Add(10*time.Minute - 400*time.Millisecond) // +10m1s
	read("")

	// Entering a new tenth of IdleTimeout (a minute) slides at once, with
	// the cookie's Max-Age renewed in the same response.
	c = &client{t: t, m: m, h: app(t)}
	clk.now = start.Add(time.Hour + 59*time.Second + 800*time.Millisecond) // 200 ms before a minute
	c.do("/put?a=2")
	key = m.key(mustRef(t, c.cookie))
	clk.Add(300 * time.Millisecond) // into the next minute, 300 ms after the slide
	w := c.do("/get?k=a")
	if w.Body.String() != "2" || w.Header().Get("Set-Cookie") == "" {
		t.Fatalf("read in a new tenth: %q, Set-Cookie %q", w.Body, w.Header().Get("Set-Cookie"))
	}
	if got, want := seen(), clk.Now().UnixMilli(); got != want {
		t.Fatalf("a new tenth of IdleTimeout did not slide: last seen %d, want %d", got, want)
	}
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil || ttl <= 9*time.Minute {
		t.Fatalf("TTL %v after the slide, %v", ttl, err)
	}
}
