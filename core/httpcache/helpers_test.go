package httpcache

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a settable clock for freshness tests.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)   { c.offset.Add(int64(d)) }
func (c *clock) install(o *Options) *clock { o.Clock = c.now; return c }

// newCache returns a Cache on srv with a test's prefix and a quiet logger.
func newCache(t testing.TB, srv *redistest.Server, opts Options) *Cache {
	t.Helper()
	return newCacheOn(t, srv.Client(), srv, opts)
}

// newCacheOn is newCache on rdb, a client of srv (such as its
// FaultyClient).
func newCacheOn(t testing.TB, rdb redis.UniversalClient, srv *redistest.Server, opts Options) *Cache {
	t.Helper()
	opts.Prefix = srv.Prefix
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second // many requests at once on two cores
	}
	c, err := New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newMW(t testing.TB, c *Cache, opts Route) *Cache {
	t.Helper()
	m, err := c.WithRoute(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// origin is a handler that counts its runs; respond writes the response.
type origin struct {
	runs    atomic.Int64
	respond func(w http.ResponseWriter, r *http.Request, n int64)
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := o.runs.Add(1)
	if o.respond != nil {
		o.respond(w, r, n)
		return
	}
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "run %d", n)
}

// do sends a request through m to h; header is "Name: value" lines.
func do(m *Cache, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for _, l := range header {
		k, v, _ := strings.Cut(l, ":")
		if k == "Host" {
			r.Host = strings.TrimSpace(v)
			continue
		}
		r.Header.Add(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r, h)
	return w
}

func get(m *Cache, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	return do(m, h, http.MethodGet, target, header...)
}

// status returns the Cache-Status value of a response.
func status(w *httptest.ResponseRecorder) string { return w.Header().Get("Cache-Status") }

func wantHit(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if !strings.Contains(status(w), "; hit") {
		t.Fatalf("want a hit, got %d Cache-Status %q body %q", w.Code, status(w), w.Body)
	}
}

func wantMiss(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if strings.Contains(status(w), "; hit") || !strings.Contains(status(w), "fwd=") {
		t.Fatalf("want a miss, got %d Cache-Status %q body %q", w.Code, status(w), w.Body)
	}
}

func wantRuns(t *testing.T, o *origin, n int64) {
	t.Helper()
	if got := o.runs.Load(); got != n {
		t.Fatalf("handler ran %d times, want %d", got, n)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newRequest(target string) *http.Request  { return httptest.NewRequest(http.MethodGet, target, nil) }
func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func runtimeGosched() { time.Sleep(time.Millisecond) }
