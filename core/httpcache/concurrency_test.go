package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// stampede sends perInstance concurrent GETs of one URL to each of
// instances Caches (separate clients and caches, as separate app
// servers would be) and returns the responses.
func stampede(t *testing.T, srv *redistest.Server, instances, perInstance int, h http.Handler) []*httptest.ResponseRecorder {
	t.Helper()
	var ms []*Cache
	for i := 0; i < instances; i++ {
		ms = append(ms, newMW(t, newCache(t, srv, Options{WaitTimeout: 20 * time.Second}), Route{}))
	}
	recs := make([]*httptest.ResponseRecorder, instances*perInstance)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range recs {
		wg.Go(func() {
			<-start
			recs[i] = get(ms[i%instances], h, "/hot?x=1")
		})
	}
	close(start)
	wg.Wait()
	return recs
}

// Four instances get 250 concurrent misses each for one URL: the handler
// runs exactly once, and every client gets its response.
func TestStampedeRunsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		fmt.Fprintf(w, "run %d", n)
	}}
	recs := stampede(t, srv, 4, 250, o)
	wantRuns(t, o, 1)
	var collapsed, hits int
	for i, w := range recs {
		if w.Code != 200 || w.Body.String() != "run 1" || len(w.Header().Values("X-Multi")) != 2 {
			t.Fatalf("response %d: %d %q %v", i, w.Code, w.Body, w.Header())
		}
		switch s := status(w); {
		case strings.Contains(s, "collapsed"):
			collapsed++
		case strings.Contains(s, "; hit"):
			hits++
		}
	}
	t.Logf("1000 requests: 1 ran the handler, %d collapsed onto it, %d hits", collapsed, hits)
}

// With a private response nothing is shared: every request runs the
// handler, and no two clients get the same answer.
func TestStampedePrivate(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Cache-Control", "private, max-age=60")
		fmt.Fprintf(w, "run %d", n)
	}}
	recs := stampede(t, srv, 4, 250, o)
	wantRuns(t, o, 1000)
	seen := map[string]bool{}
	for i, w := range recs {
		if w.Code != 200 || seen[w.Body.String()] {
			t.Fatalf("response %d: %d %q (seen before: %v)", i, w.Code, w.Body, seen[w.Body.String()])
		}
		seen[w.Body.String()] = true
	}
}

// A response that sets a cookie is never handed to a waiter either.
func TestStampedeCookie(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Set-Cookie", fmt.Sprintf("sid=%d", n))
		fmt.Fprintf(w, "run %d", n)
	}}
	recs := stampede(t, srv, 2, 50, o)
	wantRuns(t, o, 100)
	for i, w := range recs {
		if want := "sid=" + strings.TrimPrefix(w.Body.String(), "run "); w.Header().Get("Set-Cookie") != want {
			t.Fatalf("response %d: cookie %q with body %q", i, w.Header().Get("Set-Cookie"), w.Body)
		}
	}
}

func TestInvalidateTags(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	m := newMW(t, c, Route{Tags: func(r *http.Request) []string {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			return []string{"api"}
		}
		return nil
	}})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", r.URL.Query().Get("tags"))
		w.Header().Add("Cache-Tag", "all")
		fmt.Fprintf(w, "run %d", n)
	}}
	paths := []string{"/a?tags=red+blue", "/b?tags=red", "/c?tags=blue", "/api/d?tags=green", "/e?tags=" + strings.Repeat("long", 40)}
	for _, p := range paths {
		if w := get(m, o, p); w.Header().Get("Surrogate-Key") != "" || w.Header().Get("Cache-Tag") != "" {
			t.Fatalf("tag fields reached the client: %v", w.Header())
		}
		wantHit(t, get(m, o, p))
	}
	ctx := t.Context()
	if err := c.Set(ctx, "product:1", []byte("one"), time.Minute, "red", "product"); err != nil {
		t.Fatal(err)
	}
	n, err := c.InvalidateTags(ctx, "red")
	if err != nil || n != 3 {
		t.Fatalf("InvalidateTags(red) = %d, %v; want 3", n, err)
	}
	wantMiss(t, get(m, o, paths[0]))
	wantMiss(t, get(m, o, paths[1]))
	wantHit(t, get(m, o, paths[2]))
	if _, err := c.Get(ctx, "product:1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tagged value after invalidation: %v", err)
	}
	// Entries tagged after an invalidation start a new index.
	if n, err := c.InvalidateTags(ctx, "red", "nothing-has-this"); err != nil || n != 2 {
		t.Fatalf("second InvalidateTags = %d, %v; want 2 (the refilled /a and /b)", n, err)
	}
	if n, err := c.InvalidateTags(ctx, "api", strings.Repeat("long", 40)); err != nil || n != 2 {
		t.Fatalf("InvalidateTags(api, long) = %d, %v", n, err)
	}
	if n, err := c.InvalidateTags(ctx, "all"); err != nil || n != 1 { // only /c remains
		t.Fatalf("InvalidateTags(all) = %d, %v", n, err)
	}
	// Every tag index has a TTL.
	rdb := srv.Client()
	get(m, o, paths[2])
	for _, tag := range []string{"blue", "all"} {
		if ttl, err := rdb.PTTL(ctx, c.tagKey(tag)).Result(); err != nil || ttl <= 0 {
			t.Fatalf("tag %s index TTL %v %v", tag, ttl, err)
		}
	}
}

func TestInvalidatePrefix(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	m := newMW(t, c, Route{})
	o := &origin{}
	long := "/products/" + strings.Repeat("%C3%A9t%C3%A9", 20)
	type req struct{ path, host string }
	all := []req{{"/products/1", ""}, {"/products/2?x=1", ""}, {"/products/1", "other.example"}, {long, ""}, {"/productsX", ""}, {"/prod[*]", ""}, {"/other", ""}}
	fill := func() {
		for _, q := range all {
			hs := []string{}
			if q.host != "" {
				hs = append(hs, "Host: "+q.host)
			}
			get(m, o, q.path, hs...)
		}
	}
	hit := func(q req) bool {
		hs := []string{"Cache-Control: only-if-cached"}
		if q.host != "" {
			hs = append(hs, "Host: "+q.host)
		}
		return get(m, o, q.path, hs...).Code == 200
	}
	fill()
	ctx := t.Context()
	n, err := c.InvalidatePrefix(ctx, "/products/")
	if err != nil || n != 4 {
		t.Fatalf("InvalidatePrefix(/products/) = %d, %v; want 4", n, err)
	}
	for i, q := range all {
		if want := i >= 4; hit(q) != want {
			t.Fatalf("%v stored = %v, want %v", q, !want, want)
		}
	}
	fill()
	if n, err := c.InvalidatePrefix(ctx, "//other.example/products"); err != nil || n != 1 {
		t.Fatalf("host prefix = %d, %v; want 1", n, err)
	}
	if n, err := c.InvalidatePrefix(ctx, long[:90]); err != nil || n != 1 {
		t.Fatalf("long prefix = %d, %v; want 1", n, err)
	}
	if n, err := c.InvalidatePrefix(ctx, "/prod[*"); err != nil || n != 1 {
		t.Fatalf("glob characters in a prefix = %d, %v; want 1", n, err)
	}
	if n, err := c.InvalidatePrefix(ctx, "http://example.com/"); err != nil || n != 4 {
		t.Fatalf("whole host = %d, %v; want 4", n, err)
	}
	if _, err := c.InvalidatePrefix(ctx, "products"); err == nil {
		t.Fatal("a relative prefix was accepted")
	}
}

func TestInvalidateURL(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	m := newMW(t, c, Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept")
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/u?b=1&a=2", "Accept: a")
	get(m, o, "/u?b=1&a=2", "Accept: b")
	if err := c.InvalidateURL(t.Context(), "https://EXAMPLE.com/u?a=2&b=1"); err != nil {
		t.Fatal(err)
	}
	wantMiss(t, get(m, o, "/u?b=1&a=2", "Accept: a"))
	wantMiss(t, get(m, o, "/u?b=1&a=2", "Accept: b"))
	if err := c.InvalidateURL(t.Context(), "/u"); err == nil {
		t.Fatal("a URL without a host was accepted")
	}
}

// The in-process tier answers without Redis, and an invalidation through
// one instance reaches the tier of another.
func TestLocalTier(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	a := newCache(t, srv, Options{LocalBytes: 1 << 20})
	b := newCache(t, srv, Options{LocalBytes: 1 << 20})
	waitFor(t, "both subscriptions", func() bool { return a.local.active.Load() && b.local.active.Load() })
	ma, mb := newMW(t, a, Route{}), newMW(t, b, Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "t1")
		fmt.Fprintf(w, "run %d", n)
	}}
	get(ma, o, "/l")
	wantHit(t, get(mb, o, "/l")) // from Redis, now in b's tier
	rt := redistest.CountRoundTrips(b.client)
	for i := 0; i < 10; i++ {
		wantHit(t, get(mb, o, "/l"))
	}
	if n := rt.Load(); n != 0 {
		t.Fatalf("10 local hits made %d round trips", n)
	}
	for _, inv := range []func() error{
		func() error { _, err := a.InvalidateTags(t.Context(), "t1"); return err },
		func() error { return a.InvalidateURL(t.Context(), "http://example.com/l") },
		func() error { _, err := a.InvalidatePrefix(t.Context(), "/"); return err },
	} {
		get(ma, o, "/l")
		wantHit(t, get(mb, o, "/l"))
		if b.local.len() != 1 {
			t.Fatalf("b's tier holds %d items", b.local.len())
		}
		start := time.Now()
		if err := inv(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "b's tier to drop the entry", func() bool { return b.local.len() == 0 })
		t.Logf("b's tier dropped the entry %v after the invalidation started", time.Since(start))
		wantMiss(t, get(mb, o, "/l"))
	}
}

// The in-process tier never outlives LocalMaxAge, and a broken
// subscription drops it.
func TestLocalTierLimits(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{LocalBytes: 1 << 20, LocalMaxAge: time.Second}
	clk.install(&opts)
	c := newCache(t, srv, opts)
	waitFor(t, "the subscription", func() bool { return c.local.active.Load() })
	m := newMW(t, c, Route{})
	o := &origin{}
	get(m, o, "/m")
	get(m, o, "/m")
	if c.local.len() != 1 {
		t.Fatalf("tier holds %d", c.local.len())
	}
	rt := redistest.CountRoundTrips(c.client)
	clk.advance(1500 * time.Millisecond)
	wantHit(t, get(m, o, "/m"))
	if rt.Load() != 1 {
		t.Fatalf("a hit past LocalMaxAge made %d round trips, want 1 (Redis)", rt.Load())
	}
	mr := srv.Miniredis()
	if mr == nil {
		return // dropping every connection of a shared server would disturb other tests
	}
	mr.Close()
	waitFor(t, "the tier to be dropped", func() bool { return !c.local.active.Load() && c.local.len() == 0 })
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the tier to come back", func() bool { return c.local.active.Load() })
}

func TestData(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{LocalBytes: 1 << 20})
	ctx := t.Context()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of nothing: %v", err)
	}
	big := []byte(strings.Repeat("compressible ", 1000))
	if err := c.Set(ctx, "k", big, time.Minute, "t"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || string(v) != string(big) {
		t.Fatalf("Get: %d bytes, %v", len(v), err)
	}
	if raw, err := srv.Client().Get(ctx, c.dataKey("k")).Bytes(); err != nil || len(raw) > len(big)/4 {
		t.Fatalf("stored %d bytes for %d (%v): not compressed", len(raw), len(big), err)
	}
	if ttl, err := srv.Client().PTTL(ctx, c.dataKey("k")).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL %v %v", ttl, err)
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	loads := 0
	load := func(ctx context.Context) ([]byte, error) { loads++; return []byte(fmt.Sprint("v", loads)), nil }
	for i := 0; i < 3; i++ {
		if v, err := c.GetOrLoad(ctx, "{odd key*}", time.Minute, load, "t"); err != nil || string(v) != "v1" {
			t.Fatalf("GetOrLoad: %q %v", v, err)
		}
	}
	if n, err := c.InvalidateTags(ctx, "t"); err != nil || n != 1 {
		t.Fatalf("InvalidateTags = %d, %v", n, err)
	}
	if v, _ := c.GetOrLoad(ctx, "{odd key*}", time.Minute, load); string(v) != "v2" {
		t.Fatalf("after invalidation: %q", v)
	}
	boom := errors.New("boom")
	if _, err := c.GetOrLoad(ctx, "e", time.Minute, func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("load error: %v", err)
	}
	if _, err := c.Get(ctx, "e"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a failed load stored something")
	}
	if _, err := c.GetOrLoad(ctx, "e", 0, load); err == nil {
		t.Fatal("a zero TTL was accepted")
	}
}

// Four instances ask for one missing value 250 times each at once: it is
// loaded exactly once.
func TestGetOrLoadStampede(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var caches []*Cache
	for i := 0; i < 4; i++ {
		caches = append(caches, newCache(t, srv, Options{WaitTimeout: 20 * time.Second}))
	}
	var loads atomic.Int64
	load := func(ctx context.Context) ([]byte, error) {
		loads.Add(1)
		time.Sleep(100 * time.Millisecond)
		return []byte("value"), nil
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	start := make(chan struct{})
	for i := 0; i < 1000; i++ {
		wg.Go(func() {
			<-start
			v, err := caches[i%4].GetOrLoad(context.Background(), "hot", time.Minute, load)
			if err != nil || string(v) != "value" {
				bad.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := loads.Load(); n != 1 || bad.Load() != 0 {
		t.Fatalf("loaded %d times, %d bad answers", n, bad.Load())
	}
}

func TestDataRedisDown(t *testing.T) {
	t.Parallel()
	c, err := New(redistest.Hung(t), Options{Settings: core.Settings{Timeout: 20 * time.Millisecond, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("fresh"), nil })
	if err != nil || string(v) != "fresh" {
		t.Fatalf("GetOrLoad with Redis down: %q %v", v, err)
	}
	if err := c.Set(t.Context(), "k", v, time.Minute); err == nil {
		t.Fatal("Set with Redis down reported no error")
	}
}

// The in-process tier keeps to its budget, and an entry read since the
// last eviction pass outlives one that was not.
func TestLocalTierBudget(t *testing.T) {
	l := newLocalTier(10_000, 60_000)
	l.active.Store(true)
	e := func() *entry { return &entry{status: 200, body: make([]byte, 1500), lifetime: 60_000, keep: 60_000} }
	for i := 0; i < 5; i++ {
		l.put(fmt.Sprint("k", i), "", "", "", e(), 1, l.epochNow())
	}
	if l.get("k0", 2) == nil {
		t.Fatal("k0 missing")
	}
	for i := 5; i < 20; i++ {
		l.put(fmt.Sprint("k", i), "", "", "", e(), 1, l.epochNow())
		l.get("k0", 2)
		if l.used > l.budget {
			t.Fatalf("%d bytes used of %d", l.used, l.budget)
		}
	}
	if l.get("k0", 2) == nil || l.get("k1", 2) != nil {
		t.Fatal("the entry read all along was evicted, or an unread one kept")
	}
	// An invalidation between a read and its put keeps the entry out.
	epoch := l.epochNow()
	l.apply(string(msgTag) + "x")
	l.put("late", "", "", "", e(), 1, epoch)
	if l.get("late", 2) != nil {
		t.Fatal("an entry read before an invalidation was put after it")
	}
}
