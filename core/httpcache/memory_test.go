package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// scanKeys returns every key that matches pattern, on every master.
func scanKeys(t *testing.T, client redis.UniversalClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cl, ok := client.(*redis.ClusterClient); ok {
		err = cl.ForEachMaster(t.Context(), func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(t.Context(), client)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantShortLived fails unless every key under prefix expires, within limit.
func wantShortLived(t *testing.T, client redis.UniversalClient, prefix string, limit time.Duration) []string {
	t.Helper()
	ks := scanKeys(t, client, prefix+"*")
	for _, k := range ks {
		ttl, err := client.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > limit {
			t.Errorf("key %q lives %v (limit %v)", k, ttl, limit)
		}
	}
	return ks
}

// After 60 distinct misses of a max-age=30 page, no key the cache wrote
// lives longer than an hour: the fill lock leaves nothing behind (no
// fencing counter), and the only keys are the 60 entries. Invalidations
// leave nothing long-lived either.
func TestMissesLeaveNoLongLivedKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	m := newMW(t, c, Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=30")
		w.Header().Set("Surrogate-Key", "cached")
		fmt.Fprintf(w, "run %d", n)
	}}
	for i := 0; i < 60; i++ {
		wantMiss(t, get(m, o, fmt.Sprintf("/cached?q=%d", i)))
	}
	ks := wantShortLived(t, srv.Client(), srv.Prefix, time.Hour)
	entries := 0
	for _, k := range ks {
		if strings.Contains(k, "}:p:") {
			entries++
		}
	}
	if entries != 60 {
		t.Errorf("%d entries", entries)
	}
	// 60 entries and the tag's index: nothing else.
	if len(ks) != 61 {
		t.Errorf("%d keys after 60 misses, want 61; the first: %q", len(ks), ks[:min(3, len(ks))])
	}
	do(m, o, http.MethodPost, "/cached?q=1")
	if err := c.InvalidateURL(t.Context(), "http://example.com/cached?q=2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InvalidateTags(t.Context(), "cached"); err != nil {
		t.Fatal(err)
	}
	wantShortLived(t, srv.Client(), srv.Prefix, time.Hour)
}

// MaxTTL caps how long an entry is kept and how long it is fresh, whatever
// max-age says, and the TTL of Set.
func TestMaxTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=2147483648, stale-while-revalidate=2147483648")
		fmt.Fprintf(w, "run %d", n)
	}}
	for _, tc := range []struct {
		max  time.Duration
		want time.Duration
	}{{0, DefaultMaxTTL}, {time.Minute, time.Minute}} {
		c := newCache(t, srv, Options{Name: fmt.Sprint("max", tc.max), MaxTTL: tc.max})
		m := newMW(t, c, Route{})
		w := get(m, o, "/forever")
		if s := status(w); !strings.HasSuffix(s, fmt.Sprintf("stored; ttl=%d", int(tc.want.Seconds()))) {
			t.Fatalf("MaxTTL %v: Cache-Status %q", tc.max, s)
		}
		ttl, err := rdb.PTTL(t.Context(), c.targetOf("example.com", "/forever", "").key).Result()
		if err != nil || ttl <= tc.want-time.Minute/2 || ttl > tc.want {
			t.Fatalf("MaxTTL %v: entry kept %v (%v)", tc.max, ttl, err)
		}
		if err := c.Set(t.Context(), "k", []byte("v"), 1000*time.Hour); err != nil {
			t.Fatal(err)
		}
		if ttl, err := rdb.PTTL(t.Context(), c.dataKey("k")).Result(); err != nil || ttl <= 0 || ttl > tc.want {
			t.Fatalf("MaxTTL %v: Set kept %v (%v)", tc.max, ttl, err)
		}
	}
}

// blocker is a handler whose runs after the first block until released,
// so a test can invalidate while a fill is in progress.
type blocker struct {
	origin
	started chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	b := &blocker{started: make(chan struct{}, 1), release: make(chan struct{})}
	b.respond = func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "t")
		body := fmt.Sprintf("run %d", n) // read before the invalidation
		if n > 1 {
			b.started <- struct{}{}
			<-b.release
		}
		fmt.Fprint(w, body)
	}
	return b
}

// An invalidation that comes while a fill runs the handler is not undone
// by the fill: whatever the invalidation path, the response the fill got
// is sent to its client but not stored.
func TestInvalidationDuringFill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		nothingYet bool // the URL has nothing stored when the fill starts
		invalidate func(t *testing.T, c *Cache, m *Cache, b *blocker)
	}{
		{"url", false, func(t *testing.T, c, m *Cache, b *blocker) {
			if err := c.InvalidateURL(t.Context(), "http://example.com/f"); err != nil {
				t.Fatal(err)
			}
		}},
		{"url, nothing stored", true, func(t *testing.T, c, m *Cache, b *blocker) {
			if err := c.InvalidateURL(t.Context(), "http://example.com/f"); err != nil {
				t.Fatal(err)
			}
		}},
		{"unsafe method, nothing stored", true, func(t *testing.T, c, m *Cache, b *blocker) {
			do(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), http.MethodPost, "/f")
		}},
		{"tag", false, func(t *testing.T, c, m *Cache, b *blocker) {
			if n, err := c.InvalidateTags(t.Context(), "t"); err != nil || n != 1 {
				t.Fatalf("InvalidateTags = %d, %v", n, err)
			}
		}},
		{"prefix", false, func(t *testing.T, c, m *Cache, b *blocker) {
			if n, err := c.InvalidatePrefix(t.Context(), "/f"); err != nil || n != 1 {
				t.Fatalf("InvalidatePrefix = %d, %v", n, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			c := newCache(t, srv, Options{})
			m := newMW(t, c, Route{})
			b := newBlocker()
			get(m, b, "/f") // run 1: stored
			header := []string{"Cache-Control: no-cache"}
			if tc.nothingYet {
				if err := c.InvalidateURL(t.Context(), "http://example.com/f"); err != nil {
					t.Fatal(err)
				}
				header = nil
			}
			done := make(chan string)
			go func() { done <- get(m, b, "/f", header...).Body.String() }()
			<-b.started // run 2 has read its data
			tc.invalidate(t, c, m, b)
			close(b.release)
			if body := <-done; body != "run 2" {
				t.Fatalf("the fill's client got %q", body)
			}
			w := get(m, b, "/f", "Cache-Control: only-if-cached")
			if w.Code != http.StatusGatewayTimeout {
				t.Fatalf("the fill stored its response after the invalidation: %d %q %q", w.Code, status(w), w.Body)
			}
		})
	}
}

// The same for GetOrLoad: a Delete, a tag invalidation or a Set that
// comes while a load runs is not undone by the load.
func TestInvalidationDuringLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		stored     bool // a value is stored (tagged t) before the load
		invalidate func(t *testing.T, c *Cache) string
	}{
		{"delete", false, func(t *testing.T, c *Cache) string {
			if err := c.Delete(t.Context(), "k"); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"set", false, func(t *testing.T, c *Cache) string {
			if err := c.Set(t.Context(), "k", []byte("new"), time.Minute); err != nil {
				t.Fatal(err)
			}
			return "new"
		}},
		{"tag", true, func(t *testing.T, c *Cache) string {
			if _, err := c.InvalidateTags(t.Context(), "t"); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			c := newCache(t, srv, Options{})
			ctx := t.Context()
			if tc.stored {
				// Indexed under t, but gone from Redis (expired, evicted):
				// GetOrLoad loads it.
				if err := c.Set(ctx, "k", []byte("stored"), time.Minute, "t"); err != nil {
					t.Fatal(err)
				}
				if err := srv.Client().Del(ctx, c.dataKey("k")).Err(); err != nil {
					t.Fatal(err)
				}
			}
			started, release := make(chan struct{}), make(chan struct{})
			load := func(ctx context.Context) ([]byte, error) {
				close(started)
				<-release
				return []byte("old"), nil
			}
			done := make(chan string)
			go func() {
				v, err := c.GetOrLoad(context.Background(), "k", time.Minute, load, "t")
				if err != nil {
					t.Error(err)
				}
				done <- string(v)
			}()
			<-started
			want := tc.invalidate(t, c)
			close(release)
			if v := <-done; v != "old" {
				t.Fatalf("the loader's caller got %q", v)
			}
			v, err := c.Get(ctx, "k")
			if want == "" && !errors.Is(err, ErrNotFound) || want != "" && string(v) != want {
				t.Fatalf("after the load: %q, %v; want %q", v, err, want)
			}
		})
	}
}

// A fill that starts from an entry of the in-process tier knows the URL's
// generation too: after an invalidation, a request with no-cache still
// stores its fresh copy.
func TestFillAfterLocalHitStores(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{LocalBytes: 1 << 20})
	waitFor(t, "the subscription", c.LocalReady)
	m := newMW(t, c, Route{})
	o := &origin{}
	get(m, o, "/l")
	if err := c.InvalidateURL(t.Context(), "http://example.com/l"); err != nil {
		t.Fatal(err)
	}
	get(m, o, "/l")             // run 2, stored under the new generation
	wantHit(t, get(m, o, "/l")) // from Redis, into the tier
	// The invalidation's own message comes back through the subscription
	// at a time of its own (late on a Cluster, whose bus carries it) and
	// drops the entry again: the next hit is from Redis, the one after
	// from the tier.
	rt := redistest.CountRoundTrips(c.client)
	waitFor(t, "a hit from the tier", func() bool {
		before := rt.Load()
		wantHit(t, get(m, o, "/l"))
		return rt.Load() == before
	})
	if w := get(m, o, "/l", "Cache-Control: no-cache"); w.Body.String() != "run 3" {
		t.Fatalf("no-cache: %q", w.Body)
	}
	// (this instance's tier keeps its copy up to LocalMaxAge; Redis has the new one)
	other := newMW(t, newCache(t, srv, Options{}), Route{})
	if w := get(other, o, "/l"); w.Body.String() != "run 3" {
		t.Fatalf("the no-cache request's response was not stored: %q (%s)", w.Body, status(w))
	}
}

// A URL's generation lives in its hash (see forget.lua), and a store keeps
// it: a store that replaces every variant (the Vary names changed) keeps
// it, and one of a short-lived entry does not shorten its life. Either
// loss would let a fill that looked the URL up before the invalidation
// store afterwards.
func TestGenerationOutlivesStores(t *testing.T) {
	t.Parallel()
	t.Run("vary changed", func(t *testing.T) {
		t.Parallel()
		srv := redistest.New(t)
		c := newCache(t, srv, Options{})
		m := newMW(t, c, Route{})
		b := newBlocker()
		vary := "X-A"
		b.respond = func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Vary", vary)
			body := fmt.Sprintf("run %d", n)
			if n == 2 {
				b.started <- struct{}{}
				<-b.release
			}
			fmt.Fprint(w, body)
		}
		wantMiss(t, get(m, b, "/f", "X-A: 1")) // run 1: stored, Vary X-A
		done := make(chan string)
		go func() { done <- get(m, b, "/f", "X-A: 1", "Cache-Control: no-cache").Body.String() }()
		<-b.started // run 2 looked the URL up before the invalidation
		if err := c.InvalidateURL(t.Context(), "http://example.com/f"); err != nil {
			t.Fatal(err)
		}
		wantMiss(t, get(m, b, "/f", "X-A: 2")) // run 3: stored, Vary X-A
		vary = "X-B"
		// run 4: Vary X-B replaces every variant
		wantMiss(t, get(m, b, "/f", "X-A: 2", "Cache-Control: no-cache"))
		close(b.release)
		if body := <-done; body != "run 2" {
			t.Fatalf("the fill's client got %q", body)
		}
		w := get(m, b, "/f", "X-A: 1", "Cache-Control: only-if-cached")
		if w.Code != http.StatusOK || w.Body.String() != "run 4" {
			t.Fatalf("after the fill: %d %q %q, want run 4 stored (the fill from before the invalidation refused)", w.Code, status(w), w.Body)
		}
	})
	t.Run("short entry", func(t *testing.T) {
		t.Parallel()
		srv := redistest.New(t)
		c := newCache(t, srv, Options{MaxTTL: time.Second})
		m := newMW(t, c, Route{})
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Cache-Control", "max-age=1")
			fmt.Fprintf(w, "run %d", n)
		}}
		if err := c.InvalidateURL(t.Context(), "http://example.com/f"); err != nil {
			t.Fatal(err)
		}
		wantMiss(t, get(m, o, "/f"))
		if w := get(m, o, "/f"); !strings.Contains(status(w), "; hit") {
			t.Fatalf("not stored: %q", status(w))
		}
		key := c.targetOf("example.com", "/f", "").key
		rdb := srv.Client()
		if g, err := rdb.HGet(t.Context(), key, "g").Result(); err != nil || g == "" {
			t.Fatalf("the generation after a store: %q, %v", g, err)
		}
		if d, err := rdb.PTTL(t.Context(), key).Result(); err != nil || d < c.genTTL-10*time.Second {
			t.Fatalf("the URL's hash lives %v (%v) after a 1 s entry was stored, want about %v: the generation's life", d, err, c.genTTL)
		}
	})
}

// A URL keeps up to MaxVariants variants; one more replaces them all. The
// generation an invalidation left in the URL's hash is not a variant.
func TestMaxVariants(t *testing.T) {
	t.Parallel()
	for _, invalidated := range []bool{false, true} {
		t.Run(fmt.Sprintf("invalidated=%v", invalidated), func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			c := newCache(t, srv, Options{MaxVariants: 3})
			m := newMW(t, c, Route{})
			o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Vary", "X-V")
				fmt.Fprintf(w, "run %d", n)
			}}
			if invalidated {
				if err := c.InvalidateURL(t.Context(), "http://example.com/v"); err != nil {
					t.Fatal(err)
				}
			}
			stored := func(v string) bool {
				w := get(m, o, "/v", "X-V: "+v, "Cache-Control: only-if-cached")
				return w.Code == http.StatusOK
			}
			for _, v := range []string{"1", "2", "3"} {
				wantMiss(t, get(m, o, "/v", "X-V: "+v))
			}
			for _, v := range []string{"1", "2", "3"} {
				if !stored(v) {
					t.Fatalf("variant %s of 3 is not stored", v)
				}
			}
			wantMiss(t, get(m, o, "/v", "X-V: 4"))
			if !stored("4") {
				t.Fatal("the fourth variant is not stored")
			}
			for _, v := range []string{"1", "2", "3"} {
				if stored(v) {
					t.Fatalf("variant %s is still stored after a fourth replaced them", v)
				}
			}
		})
	}
}
