package ginmw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/ginmw"
)

// Mount takes the value any core's New returned, so an app-wide stack is
// one r.Use per core, the first the outermost. Here the limiter sits
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
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	for _, m := range []core.Middleware{limiter, cache} {
		r.Use(ginmw.Mount(m))
	}
	r.GET("/news", func(c *gin.Context) {
		c.Header("Cache-Control", "max-age=30")
		c.String(http.StatusOK, "news")
	})

	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/news", nil))
		fmt.Printf("%d %q\n", w.Code, w.Header().Get("Cache-Status"))
	}
	// Output:
	// 200 "redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30"
	// 200 "redisware; hit; ttl=30"
	// 429 ""
}
