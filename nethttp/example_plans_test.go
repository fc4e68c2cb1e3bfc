package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/nethttp"
)

// Each customer gets the limit of their plan; a request naming no known
// plan gets the free one.
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
		Choose:   func(r *http.Request) string { return r.Header.Get("X-Plan") }, // your authentication here
		Limiters: map[string]*ratelimit.Limiter{"free": free, "pro": pro},
		Default:  "free",
	})
	if err != nil {
		panic(err)
	}
	api := nethttp.RateLimitPlans(plans)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	for _, plan := range []string{"pro", "pro", "", ""} {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		r.Header.Set("X-Plan", plan)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Printf("%q: %d %s\n", plan, w.Code, w.Header().Get("RateLimit-Policy"))
	}
	// Output:
	// "pro": 200 "pro";q=100;w=60
	// "pro": 200 "pro";q=100;w=60
	// "": 200 "free";q=1;w=60
	// "": 429 "free";q=1;w=60
}
