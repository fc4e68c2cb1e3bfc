package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
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

// New validates the options once, up front: a field that cannot work is
// an error naming it, never a failure at request time. Every policy needs
// a Name of its own, since limiters with the same name, algorithm and
// limits share their counts.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	_, err := ratelimit.New(rdb, ratelimit.Options{
		Limits: []ratelimit.Limit{ratelimit.PerMinute(100)},
	})
	fmt.Println(err)
	_, err = ratelimit.New(rdb, ratelimit.Options{
		Name:       "search",
		Limits:     []ratelimit.Limit{ratelimit.PerMinute(100)},
		IPv6Prefix: 256,
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, core.ErrConfig))
	// Output:
	// ratelimit: invalid configuration: Options.Name is required: limiters with the same name, algorithm and limits share their counts, so each policy needs a name of its own
	// ratelimit: invalid configuration: Options.IPv6Prefix 256 is outside 0..128 (0 means 64)
	// true
}

// A Limiter is the middleware itself: one call builds what a route mounts
// (nethttp.RateLimit, ginmw.RateLimit, echomw.RateLimit do what this
// example does by hand), and the handler reads the decision from its
// request's context.
func ExampleLimiter_ServeHTTP() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	shared := core.Settings{Prefix: "shop:"} // the deployment's settings, shared by every core
	limiter, err := ratelimit.New(rdb, ratelimit.Options{Settings: shared, Name: "search", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	search := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := ratelimit.ResultFromContext(r.Context())
		fmt.Fprintf(w, "%d searches left", res.Remaining)
	})
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		limiter.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/search", nil), search)
		fmt.Printf("%d RateLimit: %s Retry-After: %q\n%s\n", w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"), w.Body)
	}
	// Output:
	// 200 RateLimit: "search";r=0;t=60 Retry-After: ""
	// 0 searches left
	// 429 RateLimit: "search";r=0;t=60 Retry-After: "60"
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit \"search\" of 1 per 1m0s exceeded; retry in 60 s."}
}

// A Key that returns ("", nil) counts the request against its client
// address: signed-in users are limited by account, everyone else by
// address.
func ExampleKeyFunc() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	userID := func(r *http.Request) string { return r.Header.Get("X-User") } // your authentication here
	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)},
		Key: func(r *http.Request) (string, error) {
			if id := userID(r); id != "" {
				return "user:" + id, nil
			}
			return "", nil // the client address
		},
	})
	if err != nil {
		panic(err)
	}
	send := func(user, addr string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr + ":1234"
		r.Header.Set("X-User", user)
		w := httptest.NewRecorder()
		limiter.ServeHTTP(w, r, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		return w.Code
	}
	fmt.Println(send("ada", "203.0.113.7"), send("ada", "198.51.100.9")) // one account, two addresses
	fmt.Println(send("", "203.0.113.7"), send("", "203.0.113.7"))        // anonymous: by address
	// Output:
	// 200 429
	// 200 429
}
