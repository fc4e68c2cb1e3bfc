package echomw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/echomw"
)

// An error returned by an Echo handler is shaped by the app's error handler
// inside the middleware, so the error response is what the cache stores
// when the app gives it a freshness; Route.DefaultTTL never does (a 404 is
// an error, not a page). Path parameters reach a background refresh.
func TestHTTPCacheEchoErrorsAndRefresh(t *testing.T) {
	srv := redistest.New(t)
	m, err := httpcache.New(srv.Client(), httpcache.Options{
		// A deadline far from the default's 100 ms: the test waits for a
		// background store, which a busy CI machine can slow past it.
		Settings: core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second},
		Route:    httpcache.Route{DefaultTTL: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if c.Response().Committed {
			return // shaped inside the middleware already
		}
		c.Response().Header().Set("X-Handled-By", "app")
		if c.Param("id") == "missing" {
			c.Response().Header().Set("Cache-Control", "max-age=60")
		}
		_ = c.String(http.StatusNotFound, "no such item: "+c.Param("id"))
	}
	var runs atomic.Int64
	e.GET("/items/:id", func(c echo.Context) error {
		n := runs.Add(1)
		if id := c.Param("id"); id == "missing" || id == "gone" {
			return echo.ErrNotFound
		}
		c.Response().Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "run": n})
	}, echomw.HTTPCache(m))
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	get("/items/missing")
	w := get("/items/missing")
	if w.Code != 404 || w.Body.String() != "no such item: missing" || w.Header().Get("X-Handled-By") != "app" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("stored error: %d %q %v", w.Code, w.Body, w.Header())
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times", runs.Load())
	}
	get("/items/gone")
	if w := get("/items/gone"); w.Code != 404 || w.Body.String() != "no such item: gone" || strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("a 404 stored for the route's DefaultTTL: %d %q %v", w.Code, w.Body, w.Header())
	}
	if runs.Load() != 3 {
		t.Fatalf("ran %d times", runs.Load())
	}
	get("/items/7")
	time.Sleep(1100 * time.Millisecond)
	if w := get("/items/7"); !strings.Contains(w.Header().Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("stale: %q", w.Header().Get("Cache-Status"))
	}
	// A refresh (run 5, or a later one if a store failed and the entry
	// went stale again) stores a response the handler made with the path
	// parameter, served fresh from the cache.
	refreshed := regexp.MustCompile(`^\{"id":"7","run":([0-9]+)\}\n$`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := get("/items/7")
		cs := w.Header().Get("Cache-Status")
		if match := refreshed.FindStringSubmatch(w.Body.String()); match != nil && strings.Contains(cs, "hit") && !strings.Contains(cs, "stale") {
			if run, _ := strconv.Atoi(match[1]); run >= 5 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh stored its response: %q, %q", w.Body, cs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ExampleHTTPCache() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	cache, err := httpcache.New(rdb, httpcache.Options{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	e := echo.New()
	runs := 0
	e.GET("/news", func(c echo.Context) error {
		runs++
		c.Response().Header().Set("Cache-Control", "max-age=30")
		return c.String(http.StatusOK, fmt.Sprintf("news %d", runs))
	}, echomw.HTTPCache(cache))
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/news", nil))
		fmt.Println(w.Body.String(), "|", w.Header().Get("Cache-Status"))
	}
	// Output:
	// news 1 | redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30
	// news 1 | redisware; hit; ttl=30
}
