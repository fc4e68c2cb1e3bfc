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

func ExampleRateLimit() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{Name: "hello", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", nethttp.RateLimit(limiter)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := ratelimit.ResultFromContext(r.Context()) // what the limiter decided
		fmt.Fprintf(w, "hello (%d left)", res.Remaining)
	})))

	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hello", nil))
		fmt.Println(w.Code, w.Header().Get("RateLimit-Policy"), w.Header().Get("Content-Type"))
		fmt.Println(w.Body)
	}
	// Output:
	// 200 "hello";q=1;w=60 text/plain; charset=utf-8
	// hello (0 left)
	// 429 "hello";q=1;w=60 application/problem+json
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit \"hello\" of 1 per 1m0s exceeded; retry in 60 s."}
}
