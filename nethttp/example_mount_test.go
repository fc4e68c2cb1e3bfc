package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/nethttp"
)

// Mount takes the value any core's New returned, so a stack of cores is a
// slice; the first one is the outermost. Here the limiter sits outside the
// cache, so cache hits count against the budget too.
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
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=30")
		fmt.Fprint(w, "news")
	})
	stack := []core.Middleware{limiter, cache}
	for i := len(stack) - 1; i >= 0; i-- {
		h = nethttp.Mount(stack[i])(h)
	}

	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/news", nil))
		fmt.Printf("%d %q\n", w.Code, w.Header().Get("Cache-Status"))
	}
	// Output:
	// 200 "redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30"
	// 200 "redisware; hit; ttl=30"
	// 429 ""
}

// A limiter mounted around the whole mux keeps a budget per route with
// Options.PerRoute; RoutesFrom lets it find each request's route before
// the mux dispatches. /items/1 and /items/2 are one route; /about another.
func ExampleRoutesFrom() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:     "site",
		Limits:   []ratelimit.Limit{ratelimit.PerMinute(1)},
		PerRoute: true,
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "item ", r.PathValue("id")) })
	mux.HandleFunc("GET /about", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "about") })
	app := nethttp.RateLimit(limiter, nethttp.RoutesFrom(mux))(mux)

	for _, path := range []string{"/items/1", "/items/2", "/about"} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, w.Code)
	}
	// Output:
	// /items/1 200
	// /items/2 429
	// /about 200
}
