package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/nethttp"
)

func ExampleHTTPCache() {
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
	runs := 0
	mux := http.NewServeMux()
	mux.Handle("GET /news", nethttp.HTTPCache(cache)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.Header().Set("Cache-Control", "max-age=30")
		fmt.Fprintf(w, "news %d", runs)
	})))
	for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodHead} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, "/news", nil))
		fmt.Printf("%s %q | %s\n", method, w.Body.String(), w.Header().Get("Cache-Status"))
	}
	// Output:
	// GET "news 1" | redisware; fwd=uri-miss; fwd-status=200; stored; ttl=30
	// GET "news 1" | redisware; hit; ttl=30
	// HEAD "" | redisware; hit; ttl=30
}
