package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/ratelimit"
)

func ExampleLimiter_Allow() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerSecond(2), ratelimit.PerHour(1000)},
	})
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		res, err := limiter.Allow(context.Background(), "user-42")
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Allowed, res.Limit.Name, res.Remaining)
	}
	// Output:
	// true 2-per-1s 1
	// true 2-per-1s 0
	// false 2-per-1s 0
}

func ExampleNewMiddleware() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{Name: "search", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	mw, err := ratelimit.NewMiddleware(limiter, ratelimit.MiddlewareOptions{})
	if err != nil {
		panic(err)
	}
	// What an adapter does (see package nethttp for the real one):
	handle := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/search", nil)
		d := mw.Decide(r, "/search")
		if !d.Allow {
			mw.Reject(w, r, d)
			return w
		}
		mw.SetHeaders(w.Header(), d)
		w.WriteHeader(http.StatusOK)
		return w
	}
	first, second := handle(), handle()
	fmt.Println(first.Code, first.Header().Get("RateLimit"))
	fmt.Println(second.Code, second.Header().Get("Content-Type"), second.Header().Get("Retry-After"))
	// Output:
	// 200 "search";r=0;t=60
	// 429 application/problem+json 60
}
