package ginmw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/ginmw"
)

// Gin's renderers set Content-Type after WriteHeader; the stored response
// must hold every field Gin sent, a status set without a body is stored
// too, and a stale-while-revalidate refresh, which reruns the chain after
// the cache answered on Gin's writer, renders afresh.
func TestHTTPCacheGinRenderers(t *testing.T) {
	srv := redistest.New(t)
	// A deadline far from the default's 100 ms: the refresh's store must
	// be in before the next request, on a busy CI machine too.
	c, err := httpcache.New(srv.Client(), httpcache.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.WithRoute(httpcache.Route{DefaultTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var runs atomic.Int64
	r.GET("/json", ginmw.HTTPCache(m), func(c *gin.Context) {
		n := runs.Add(1)
		c.Header("X-Run", fmt.Sprint(n))
		c.JSON(http.StatusOK, gin.H{"run": n})
	})
	r.GET("/empty", ginmw.HTTPCache(m), func(c *gin.Context) {
		runs.Add(1)
		c.Status(http.StatusNoContent)
	})
	r.GET("/swr", ginmw.HTTPCache(m), func(c *gin.Context) {
		n := runs.Add(1)
		c.Header("Cache-Control", "max-age=1, stale-while-revalidate=60")
		c.String(http.StatusOK, "run %d", n)
	})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	for _, path := range []string{"/json", "/empty"} {
		first := get(path)
		again := get(path)
		if !strings.Contains(again.Header().Get("Cache-Status"), "hit") || again.Code != first.Code || again.Body.String() != first.Body.String() {
			t.Fatalf("%s: %d %q %q, first %d %q", path, again.Code, again.Header().Get("Cache-Status"), again.Body, first.Code, first.Body)
		}
		for _, h := range []string{"Content-Type", "X-Run"} {
			if again.Header().Get(h) != first.Header().Get(h) {
				t.Fatalf("%s: %s %q, first %q", path, h, again.Header().Get(h), first.Header().Get(h))
			}
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("handlers ran %d times, want 2", runs.Load())
	}
	get("/swr")
	time.Sleep(1100 * time.Millisecond)
	if w := get("/swr"); w.Body.String() != "run 3" || !strings.Contains(w.Header().Get("Cache-Status"), "stale-while-revalidate") {
		t.Fatalf("stale: %q %q", w.Body, w.Header().Get("Cache-Status"))
	}
	if w := get("/swr"); w.Body.String() != "run 4" || w.Code != 200 {
		t.Fatalf("refreshed: %d %q", w.Code, w.Body)
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
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	runs := 0
	r.GET("/news", ginmw.HTTPCache(cache), func(c *gin.Context) {
		runs++
		c.Header("Cache-Control", "max-age=30")
		c.String(http.StatusOK, "news %d", runs)
	})
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/news", nil))
		fmt.Println(w.Body.String(), "|", w.Header().Get("Cache-Status"))
	}
	// Output:
	// news 1 | redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30
	// news 1 | redisware; hit; ttl=30
}
