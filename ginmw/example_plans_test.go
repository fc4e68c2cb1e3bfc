package ginmw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/ginmw"
)

// Each customer gets the limit of their plan, which the app's auth
// middleware stored with c.Set; a request with no known plan gets the free
// one.
func ExampleRateLimitPlans() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	free, err := ratelimit.New(rdb, ratelimit.Options{Name: "free", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	pro, err := ratelimit.New(rdb, ratelimit.Options{Name: "pro", Limits: []ratelimit.Limit{ratelimit.PerMinute(100)}})
	if err != nil {
		panic(err)
	}
	plans, err := ratelimit.NewPlans(ratelimit.PlansOptions{
		Choose:   ginmw.Choose(func(c *gin.Context) string { return c.GetString("plan") }),
		Limiters: map[string]*ratelimit.Limiter{"free": free, "pro": pro},
		Default:  "free",
	})
	if err != nil {
		panic(err)
	}
	auth := func(c *gin.Context) {
		c.Set("plan", c.GetHeader("X-Plan")) // your authentication here
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api", auth, ginmw.RateLimitPlans(plans), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	for _, plan := range []string{"pro", "pro", "", ""} {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		req.Header.Set("X-Plan", plan)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Printf("%q: %d %s\n", plan, w.Code, w.Header().Get("RateLimit-Policy"))
	}
	// Output:
	// "pro": 200 "pro";q=100;w=60
	// "pro": 200 "pro";q=100;w=60
	// "": 200 "free";q=1;w=60
	// "": 429 "free";q=1;w=60
}
