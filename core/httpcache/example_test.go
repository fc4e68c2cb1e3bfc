package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/httpcache"
)

// newRedis starts an embedded Redis for the examples.
func newRedis() (redis.UniversalClient, func()) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	return rdb, func() { _ = rdb.Close(); mr.Close() }
}

func ExampleCache_ServeHTTP() {
	rdb, stop := newRedis()
	defer stop()
	cache, err := httpcache.New(rdb, httpcache.Options{StatusName: "edge"})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	runs := 0
	report := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"r1"`)
		w.Header().Set("Surrogate-Key", "reports")
		fmt.Fprintf(w, "report, run %d", runs)
	})
	send := func(header ...string) {
		r := httptest.NewRequest(http.MethodGet, "/report?year=2026&month=1", nil)
		if len(header) == 2 {
			r.Header.Set(header[0], header[1])
		}
		w := httptest.NewRecorder()
		cache.ServeHTTP(w, r, report)
		fmt.Printf("%d %q | %s\n", w.Code, w.Body.String(), w.Header().Get("Cache-Status"))
	}
	send()
	send()
	send("If-None-Match", `"r1"`)
	send("Cache-Control", "no-cache")
	if _, err := cache.InvalidateTags(context.Background(), "reports"); err != nil {
		panic(err)
	}
	send()
	// Output:
	// 200 "report, run 1" | edge; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// 200 "report, run 1" | edge; hit; ttl=60
	// 304 "" | edge; hit; ttl=60
	// 200 "report, run 2" | edge; fwd=request; fwd-status=200; stored; ttl=60
	// 200 "report, run 3" | edge; fwd=uri-miss; fwd-status=200; stored; ttl=60
}

// One Cache per application, and one WithRoute per route with options of
// its own: here a handler that states no freshness gets a default one.
func ExampleCache_WithRoute() {
	rdb, stop := newRedis()
	defer stop()
	cache, err := httpcache.New(rdb, httpcache.Options{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	prices, err := cache.WithRoute(httpcache.Route{DefaultTTL: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	runs := 0
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++ // no Cache-Control of its own
		fmt.Fprintf(w, "prices, run %d", runs)
	})
	for _, mw := range []*httpcache.Cache{cache, cache, prices, prices} {
		w := httptest.NewRecorder()
		mw.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/prices", nil), list)
		fmt.Printf("%q | %s\n", w.Body.String(), w.Header().Get("Cache-Status"))
	}
	_, err = cache.WithRoute(httpcache.Route{StaleIfError: -time.Second})
	fmt.Println(err)
	// Output:
	// "prices, run 1" | redisware; fwd=uri-miss; fwd-status=200
	// "prices, run 2" | redisware; fwd=uri-miss; fwd-status=200
	// "prices, run 3" | redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30
	// "prices, run 3" | redisware; hit; ttl=30
	// httpcache: invalid configuration: Route.StaleIfError is negative (-1s)
}

func ExampleCache_GetOrLoad() {
	rdb, stop := newRedis()
	defer stop()
	cache, err := httpcache.New(rdb, httpcache.Options{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	ctx := context.Background()
	loads := 0
	loadProduct := func(ctx context.Context) ([]byte, error) {
		loads++ // a database query, say
		return []byte(`{"id":42,"name":"lamp"}`), nil
	}
	for i := 0; i < 3; i++ {
		v, err := cache.GetOrLoad(ctx, "product:42", time.Minute, loadProduct, "product:42", "catalog")
		if err != nil {
			panic(err)
		}
		fmt.Println(string(v))
	}
	n, _ := cache.InvalidateTags(ctx, "catalog")
	fmt.Println("loads:", loads, "invalidated:", n)
	_, err = cache.Get(ctx, "product:42")
	fmt.Println(err)
	// Output:
	// {"id":42,"name":"lamp"}
	// {"id":42,"name":"lamp"}
	// {"id":42,"name":"lamp"}
	// loads: 1 invalidated: 1
	// httpcache: not found
}
