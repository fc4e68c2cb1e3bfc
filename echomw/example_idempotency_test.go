package echomw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/echomw"
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
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(nil) // its 400, 409, 422 as problem+json
	payments := 0
	e.POST("/payments", func(c echo.Context) error {
		key, _ := idempotency.KeyFromContext(c.Request().Context()) // for the payment provider's own idempotency
		payments++
		return c.JSON(http.StatusCreated, map[string]any{"payment": payments, "key": key})
	}, echomw.Idempotency(guard))

	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(`{"amount":500}`))
		req.Header.Set("Idempotency-Key", `"pay-7c1e9a52"`)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		fmt.Printf("%d %q %s", w.Code, w.Header().Get("Idempotent-Replayed"), w.Body)
	}
	fmt.Println("payments:", payments)
	// Output:
	// 201 "" {"key":"pay-7c1e9a52","payment":1}
	// 201 "true" {"key":"pay-7c1e9a52","payment":1}
	// payments: 1
}
