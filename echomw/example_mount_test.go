package echomw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/echomw"
)

// Mount takes the value any core's New returned, so an app-wide stack is
// one e.Use per core, the first the outermost. Here the limiter sits
// outside the cache, so cache hits count against the budget too.
func ExampleMount() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{Name: "news", Limits: []ratelimit.Limit{ratelimit.PerMinute(2)}})
	if err != nil {
		panic(err)
	}
	cache, err := httpcache.New(rdb, httpcache.Options{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(nil) // rejections as problem+json
	for _, m := range []core.Middleware{limiter, cache} {
		e.Use(echomw.Mount(m))
	}
	e.GET("/news", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "max-age=30")
		return c.String(http.StatusOK, "news")
	})

	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/news", nil))
		fmt.Printf("%d %q %s\n", w.Code, w.Header().Get("Cache-Status"), w.Header().Get("Content-Type"))
	}
	// Output:
	// 200 "redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30" text/plain; charset=UTF-8
	// 200 "redisware; hit; ttl=30" text/plain; charset=UTF-8
	// 429 "" application/problem+json
}
