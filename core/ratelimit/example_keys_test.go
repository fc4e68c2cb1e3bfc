package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/ratelimit"
)

// Each API key gets a budget of its own; a request without the header is
// refused with 400. The key is hashed before it reaches Redis.
func ExampleKeyByHeader() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)},
		Key:    ratelimit.KeyByHeader("X-API-Key"),
	})
	if err != nil {
		panic(err)
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, apiKey := range []string{"key-a", "key-a", "key-b", ""} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if apiKey != "" {
			r.Header.Set("X-API-Key", apiKey)
		}
		w := httptest.NewRecorder()
		limiter.ServeHTTP(w, r, ok)
		fmt.Printf("%q: %d\n", apiKey, w.Code)
	}
	// Output:
	// "key-a": 200
	// "key-a": 429
	// "key-b": 200
	// "": 400
}

// API clients count by their key, signed-in users by account, and everyone
// else by address: the first function that finds a key wins.
func ExampleKeyFirst() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	userKey := func(r *http.Request) (string, error) {
		return r.Header.Get("X-User"), nil // your authentication here; "" for a guest
	}
	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)},
		Key:    ratelimit.KeyFirst(ratelimit.KeyByHeader("X-API-Key"), userKey),
	})
	if err != nil {
		panic(err)
	}
	send := func(addr, header, value string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr + ":1234"
		if header != "" {
			r.Header.Set(header, value)
		}
		w := httptest.NewRecorder()
		limiter.ServeHTTP(w, r, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		return w.Code
	}
	fmt.Println("API key:", send("203.0.113.7", "X-API-Key", "k1"), send("198.51.100.9", "X-API-Key", "k1"))
	fmt.Println("user:   ", send("203.0.113.7", "X-User", "ada"), send("198.51.100.9", "X-User", "ada"))
	fmt.Println("guest:  ", send("203.0.113.7", "", ""), send("198.51.100.9", "", ""))
	// Output:
	// API key: 200 429
	// user:    200 429
	// guest:   200 200
}

// A Key that returns "" counts the request by its client address exactly
// as the default key does: IPv6 addresses are grouped by IPv6Prefix (a
// /64 by default), so a guest cannot multiply its budget by changing
// addresses within its network.
func ExampleOptions_key() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)},
		Key: func(r *http.Request) (string, error) {
			if user := r.Header.Get("X-User"); user != "" { // your authentication here
				return "user:" + user, nil
			}
			return "", nil // the client address
		},
	})
	if err != nil {
		panic(err)
	}
	send := func(user, addr string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "[" + addr + "]:1234"
		r.Header.Set("X-User", user)
		w := httptest.NewRecorder()
		limiter.ServeHTTP(w, r, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		fmt.Printf("%-5q %-16s %d\n", user, addr, w.Code)
	}
	send("ada", "2001:db8::1")
	send("", "2001:db8::1")
	send("", "2001:db8::2")     // the same /64
	send("", "2001:db8:0:1::1") // another /64
	// Output:
	// "ada" 2001:db8::1      200
	// ""    2001:db8::1      200
	// ""    2001:db8::2      429
	// ""    2001:db8:0:1::1  200
}
