package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/httpcache"
)

// Route.Tags tags each product page with its product; when a product
// changes, InvalidateTags forgets its pages, and only those.
func ExampleCache_InvalidateTags() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	cache, err := httpcache.New(rdb, httpcache.Options{Route: httpcache.Route{
		Tags: func(r *http.Request) []string {
			return []string{"product:" + strings.TrimPrefix(r.URL.Path, "/products/")}
		},
	}})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "product page")
	})
	get := func(target string) {
		w := httptest.NewRecorder()
		cache.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil), page)
		fmt.Printf("%-20s %s\n", target, w.Header().Get("Cache-Status"))
	}
	get("/products/42")
	get("/products/42?lang=fr")
	get("/products/7")

	n, err := cache.InvalidateTags(context.Background(), "product:42") // product 42 changed
	if err != nil {
		panic(err)
	}
	fmt.Println("invalidated:", n)
	get("/products/42")
	get("/products/42?lang=fr")
	get("/products/7")
	// Output:
	// /products/42         redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /products/42?lang=fr redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /products/7          redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// invalidated: 2
	// /products/42         redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /products/42?lang=fr redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /products/7          redisware; hit; ttl=60
}

// InvalidateURL forgets one URL, however its query parameters are ordered.
func ExampleCache_InvalidateURL() {
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
	search := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "results")
	})
	get := func(target string) {
		w := httptest.NewRecorder()
		cache.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil), search)
		fmt.Printf("%-21s %s\n", target, w.Header().Get("Cache-Status"))
	}
	get("/search?q=lamp&page=1")
	get("/search?q=desk")

	// httptest requests are for example.com; the scheme is ignored.
	if err := cache.InvalidateURL(context.Background(), "https://example.com/search?page=1&q=lamp"); err != nil {
		panic(err)
	}
	get("/search?q=lamp&page=1")
	get("/search?q=desk")
	// Output:
	// /search?q=lamp&page=1 redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /search?q=desk        redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /search?q=lamp&page=1 redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /search?q=desk        redisware; hit; ttl=60
}

// InvalidatePrefix forgets every response under a path, here after the
// whole catalog was re-imported.
func ExampleCache_InvalidatePrefix() {
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
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "page")
	})
	paths := []string{"/products/1", "/products/2", "/about"}
	get := func() {
		for _, path := range paths {
			w := httptest.NewRecorder()
			cache.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil), page)
			fmt.Printf("%-12s %s\n", path, w.Header().Get("Cache-Status"))
		}
	}
	get()
	n, err := cache.InvalidatePrefix(context.Background(), "/products/")
	if err != nil {
		panic(err)
	}
	fmt.Println("invalidated:", n)
	get()
	// Output:
	// /products/1  redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /products/2  redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /about       redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// invalidated: 2
	// /products/1  redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /products/2  redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60
	// /about       redisware; hit; ttl=60
}
