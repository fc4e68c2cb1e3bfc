package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/nethttp"
)

// A retry with the same Idempotency-Key gets the first response again; the
// handler ran once, and passed the key on to its payment provider.
func ExampleIdempotency() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	guard, err := idempotency.New(rdb, idempotency.Options{Name: "payments"})
	if err != nil {
		panic(err)
	}
	payments := 0
	mux := http.NewServeMux()
	mux.Handle("POST /payments", nethttp.Idempotency(guard)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := idempotency.KeyFromContext(r.Context()) // for the payment provider's own idempotency
		payments++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "payment %d (key %s)", payments, key)
	})))

	for i := 0; i < 2; i++ {
		r := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(`{"amount":500}`))
		r.Header.Set("Idempotency-Key", `"pay-7c1e9a52"`)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Printf("%d %q %s\n", w.Code, w.Header().Get("Idempotent-Replayed"), w.Body)
	}
	fmt.Println("payments:", payments)
	// Output:
	// 201 "" payment 1 (key pay-7c1e9a52)
	// 201 "true" payment 1 (key pay-7c1e9a52)
	// payments: 1
}
