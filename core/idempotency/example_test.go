package idempotency_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/idempotency"
)

func ExampleGuard_ServeHTTP() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	// The deployment's shared settings, then this guard's own fields.
	shared := core.Settings{Prefix: "shop:", Timeout: 50 * time.Millisecond}
	guard, err := idempotency.New(rdb, idempotency.Options{Settings: shared, Name: "charges", Required: true})
	if err != nil {
		panic(err)
	}
	charges := 0
	charge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The claimed key, to pass on to the payment provider.
		key, _ := idempotency.KeyFromContext(r.Context())
		charges++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "charge %d with key %s\n", charges, key)
	})
	send := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(`{"amount":500}`))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		guard.ServeHTTP(w, r, charge)
		return w
	}
	first := send(`"7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0"`)
	retry := send(`"7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0"`)
	missing := send("")
	fmt.Print(first.Code, " ", first.Body.String())
	fmt.Print(retry.Code, " ", retry.Header().Get("Idempotent-Replayed"), " ", retry.Body.String())
	fmt.Println(missing.Code, missing.Header().Get("Content-Type"))
	fmt.Println("charges:", charges)
	// Output:
	// 201 charge 1 with key 7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0
	// 201 true charge 1 with key 7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0
	// 400 application/problem+json
	// charges: 1
}

func ExampleNew_invalid() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // never dialled
	defer rdb.Close()

	// A misconfigured guard fails here, naming the field, never at
	// request time.
	_, err := idempotency.New(rdb, idempotency.Options{ClaimTTL: time.Millisecond})
	fmt.Println(err)
	// Output:
	// idempotency: invalid configuration: Options.ClaimTTL 1ms is under 30ms
}
