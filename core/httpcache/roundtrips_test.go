package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// roundTrips counts the round trips f makes on c's client.
func roundTrips(c *Cache, f func()) func() int64 {
	rt := redistest.CountRoundTrips(c.client)
	return func() int64 {
		n := rt.Load()
		f()
		return rt.Load() - n
	}
}

// A miss costs two round trips with the cross-instance stampede lock on:
// the lookup that takes the lock, and the store that releases it (the tag
// indexes in the same pipeline); a hit costs one. The same for GetOrLoad,
// whose lookup leaves the load's marker in the value's place.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	_, cluster := srv.Client().(*redis.ClusterClient)
	c := newCache(t, srv, Options{})
	m := newMW(t, c, Route{})
	tags := "a b"
	if cluster {
		tags = "" // tag indexes in other slots are exchanges with other nodes
	}
	dataTags := strings.Fields(tags)
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", tags)
		if r.URL.Path == "/vary" {
			w.Header().Set("Vary", "Accept")
		}
		fmt.Fprintf(w, "run %d", n)
	}}
	ctx := t.Context()
	load := func(context.Context) ([]byte, error) { return []byte("loaded"), nil }
	// Every script once, so no round trip below is an EVAL after a NOSCRIPT.
	get(m, o, "/warm")
	if _, err := c.GetOrLoad(ctx, "warm", time.Minute, load, dataTags...); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "warm"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func()
		want int64
	}{
		{"HTTP miss", func() { wantMiss(t, get(m, o, "/a")) }, 2},
		{"HTTP hit", func() { wantHit(t, get(m, o, "/a")) }, 1},
		{"HTTP miss, Vary", func() { wantMiss(t, get(m, o, "/vary", "Accept: x")) }, 2},
		{"HTTP miss, another variant", func() { wantMiss(t, get(m, o, "/vary", "Accept: y")) }, 2},
		{"HTTP hit, Vary", func() { wantHit(t, get(m, o, "/vary", "Accept: y")) }, 1},
		{"GetOrLoad miss", func() {
			if v, err := c.GetOrLoad(ctx, "k", time.Minute, load, dataTags...); err != nil || string(v) != "loaded" {
				t.Fatalf("GetOrLoad: %q %v", v, err)
			}
		}, 2},
		{"GetOrLoad hit", func() {
			if v, err := c.GetOrLoad(ctx, "k", time.Minute, load); err != nil || string(v) != "loaded" {
				t.Fatalf("GetOrLoad: %q %v", v, err)
			}
		}, 1},
		{"Get", func() {
			if v, err := c.Get(ctx, "k"); err != nil || string(v) != "loaded" {
				t.Fatalf("Get: %q %v", v, err)
			}
		}, 1},
	} {
		if n := roundTrips(c, tc.do)(); n != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, n, tc.want)
		}
	}
	if n := o.runs.Load(); n != 4 {
		t.Errorf("the handler ran %d times, want 4", n)
	}
	// Nothing but entries and tag indexes is left: no lock.
	for _, k := range scanKeys(t, srv.Client(), srv.Prefix+"*") {
		if strings.Contains(k, "}:l:") {
			t.Errorf("key %q left behind", k)
		}
	}
}

// serverError is an error reply, as go-redis returns one from the server.
type serverError string

func (e serverError) Error() string { return string(e) }
func (serverError) RedisError()     {}

// refuseSetGet answers every SET ... NX GET with an error reply while on,
// as a server out of memory (or one before Redis 7.0) would, and counts
// them.
type refuseSetGet struct {
	reply   serverError
	on      atomic.Bool
	refused atomic.Int64
}

func (h *refuseSetGet) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *refuseSetGet) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *refuseSetGet) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if h.on.Load() && cmd.Name() == "set" && len(args) > 0 && args[len(args)-1] == argGet {
			h.refused.Add(1)
			cmd.SetErr(h.reply)
			return h.reply
		}
		return next(ctx, cmd)
	}
}

// A server that refuses writes (out of memory) still answers GetOrLoad's
// hits, with a plain GET; a miss is loaded and reported, not stored.
func TestGetOrLoadWritesRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var reported atomic.Int64
	opts := Options{}
	opts.OnError = func(context.Context, error) { reported.Add(1) }
	c := newCache(t, srv, opts)
	hook := &refuseSetGet{reply: "OOM command not allowed when used memory > 'maxmemory'."}
	c.client.AddHook(hook)
	ctx := t.Context()
	var loads atomic.Int64
	load := func(context.Context) ([]byte, error) { return []byte(fmt.Sprint("v", loads.Add(1))), nil }
	if _, err := c.GetOrLoad(ctx, "stored", time.Minute, load); err != nil {
		t.Fatal(err)
	}
	hook.on.Store(true)
	if v, err := c.GetOrLoad(ctx, "stored", time.Minute, load); err != nil || string(v) != "v1" || loads.Load() != 1 {
		t.Fatalf("a hit while writes are refused: %q %v, %d loads", v, err, loads.Load())
	}
	if reported.Load() != 0 {
		t.Fatalf("a hit reported %d failures", reported.Load())
	}
	if v, err := c.GetOrLoad(ctx, "new", time.Minute, load); err != nil || string(v) != "v2" {
		t.Fatalf("a miss while writes are refused: %q %v", v, err)
	}
	if reported.Load() != 1 || hook.refused.Load() != 2 {
		t.Fatalf("%d failures reported, %d refused; want 1 and 2", reported.Load(), hook.refused.Load())
	}
	hook.on.Store(false)
	if _, err := c.Get(ctx, "new"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the value loaded while writes were refused was stored: %v", err)
	}
}

// A server that refuses SET with both NX and GET (before Redis 7.0) is
// asked with readlock.lua from its first refusal on, and GetOrLoad works
// as before: one load, then hits.
func TestGetOrLoadOldServer(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	hook := &refuseSetGet{reply: "ERR syntax error"}
	hook.on.Store(true)
	c.client.AddHook(hook)
	ctx := t.Context()
	var loads atomic.Int64
	load := func(context.Context) ([]byte, error) { loads.Add(1); return []byte("v"), nil }
	for i := 0; i < 3; i++ {
		if v, err := c.GetOrLoad(ctx, "k", time.Minute, load); err != nil || string(v) != "v" {
			t.Fatalf("GetOrLoad: %q %v", v, err)
		}
	}
	if loads.Load() != 1 || hook.refused.Load() != 1 || !c.noSetGet.Load() {
		t.Fatalf("%d loads, %d refusals (fallback %v); want 1 and 1", loads.Load(), hook.refused.Load(), c.noSetGet.Load())
	}
	// The fallback keeps the stampede protection: another instance waits
	// for the marker the script left.
	started, release := make(chan struct{}), make(chan struct{})
	slow := func(context.Context) ([]byte, error) { close(started); <-release; return []byte("slow"), nil }
	done := make(chan string)
	go func() { v, _ := c.GetOrLoad(ctx, "s", time.Minute, slow); done <- string(v) }()
	<-started
	other := newCache(t, srv, Options{WaitTimeout: 20 * time.Second})
	got := make(chan string)
	go func() {
		v, _ := other.GetOrLoad(ctx, "s", time.Minute, func(context.Context) ([]byte, error) { return []byte("second load"), nil })
		got <- string(v)
	}()
	close(release)
	if a, b := <-done, <-got; a != "slow" || b != "slow" {
		t.Fatalf("the loader got %q, the other instance %q; want slow twice", a, b)
	}
}

// twice runs each command or pipeline that match selects twice, as go-redis
// does when it retries one whose reply was lost.
type twice struct{ match func(redis.Cmder) bool }

func (h *twice) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *twice) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.match(cmd) {
			_ = next(ctx, cmd)
		}
		return next(ctx, cmd)
	}
}
func (h *twice) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A lookup that go-redis sends again (its reply was lost) finds the lock
// or marker its first attempt took, and knows it as its own: the request
// fills at once, stores, and leaves no lock behind.
func TestRetriedLookupKeepsItsLock(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	// (Without knowing its own lock, a request would wait this long for
	// it, then run without it, and leave it behind.)
	c := newCache(t, srv, Options{WaitTimeout: 3 * time.Second})
	c.client.AddHook(&twice{match: func(cmd redis.Cmder) bool {
		args := cmd.Args()
		// the lookup script (EVALSHA or EVAL), and SET ... NX GET
		return len(args) > 1 && (args[0] == "evalsha" && args[1] == lookupScript.Hash() || args[0] == "eval" && args[1] == lookupLua) ||
			cmd.Name() == "set" && args[len(args)-1] == argGet
	}})
	m := newMW(t, c, Route{})
	o := &origin{}
	wantMiss(t, get(m, o, "/r"))
	wantHit(t, get(m, o, "/r"))
	var loads atomic.Int64
	load := func(context.Context) ([]byte, error) { loads.Add(1); return []byte("v"), nil }
	if v, err := c.GetOrLoad(t.Context(), "k", time.Minute, load); err != nil || string(v) != "v" {
		t.Fatalf("GetOrLoad: %q %v", v, err)
	}
	if v, err := c.Get(t.Context(), "k"); err != nil || string(v) != "v" || loads.Load() != 1 {
		t.Fatalf("after a retried lookup: %q %v, %d loads", v, err, loads.Load())
	}
	for _, k := range scanKeys(t, srv.Client(), srv.Prefix+"*") {
		if strings.Contains(k, "}:l:") {
			t.Errorf("lock %q left behind", k)
		}
	}
}

// While a GetOrLoad loads, its key holds the load's marker: Get reports
// nothing stored, and a load that fails removes it, so the next call loads
// at once.
func TestGetOrLoadMarker(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{WaitTimeout: 20 * time.Second})
	ctx := t.Context()
	started, release := make(chan struct{}), make(chan struct{})
	boom := errors.New("boom")
	done := make(chan error)
	go func() {
		_, err := c.GetOrLoad(ctx, "k", time.Minute, func(context.Context) ([]byte, error) { close(started); <-release; return nil, boom })
		done <- err
	}()
	<-started
	raw, err := srv.Client().Get(ctx, c.dataKey("k")).Result()
	if err != nil || raw != c.marker {
		t.Fatalf("while loading, the key holds %q (%v), want the marker", raw, err)
	}
	if ttl, err := srv.Client().PTTL(ctx, c.dataKey("k")).Result(); err != nil || ttl <= 0 || ttl > DefaultFillTimeout {
		t.Fatalf("the marker lives %v (%v), want at most FillTimeout", ttl, err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get while loading: %v, want ErrNotFound", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("the loader's error: %v", err)
	}
	if n, err := srv.Client().Exists(ctx, c.dataKey("k")).Result(); err != nil || n != 0 {
		t.Fatalf("a failed load left its marker (%d, %v)", n, err)
	}
	other := newCache(t, srv, Options{WaitTimeout: 20 * time.Second})
	start := time.Now()
	if v, err := other.GetOrLoad(ctx, "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("v"), nil }); err != nil || string(v) != "v" {
		t.Fatalf("GetOrLoad after a failed load: %q %v", v, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the next call waited %v", d)
	}
}
