package echomw_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/echomw"
)

// An error returned by an Echo handler is shaped by the app's error handler
// inside the guard, so the error response is what is stored and replayed;
// the error still travels up the chain to outer middleware, and an error
// handler that checks Committed, as Echo's own does, writes it once.
func TestIdempotencyStoresReturnedErrors(t *testing.T) {
	srv := redistest.New(t)
	g, err := idempotency.New(srv.Client(), idempotency.Options{Settings: core.Settings{Prefix: srv.Prefix}})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if c.Response().Committed {
			return // written already, inside the guard
		}
		c.Response().Header().Set("X-Handled-By", "app")
		_ = c.String(http.StatusPaymentRequired, "card declined: "+err.Error())
	}
	var returned []error // what reached the outer middleware
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			returned = append(returned, err)
			return err
		}
	})
	var runs atomic.Int64
	e.POST("/pay", func(c echo.Context) error {
		runs.Add(1)
		return echo.NewHTTPError(http.StatusPaymentRequired, "insufficient funds")
	}, echomw.Idempotency(g))

	var bodies []string
	for i := 0; i < 2; i++ {
		r := httptest.NewRequest(http.MethodPost, "/pay", strings.NewReader(`{"amount":5}`))
		r.Header.Set("Idempotency-Key", "pay-1")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != http.StatusPaymentRequired || w.Header().Get("X-Handled-By") != "app" {
			t.Fatalf("request %d: %d %v", i, w.Code, w.Header())
		}
		if replayed := w.Header().Get("Idempotent-Replayed") == "true"; replayed != (i == 1) {
			t.Fatalf("request %d: Idempotent-Replayed %q", i, w.Header().Get("Idempotent-Replayed"))
		}
		bodies = append(bodies, w.Body.String())
	}
	if runs.Load() != 1 || bodies[0] != bodies[1] || bodies[0] != "card declined: code=402, message=insufficient funds" {
		t.Fatalf("runs %d, bodies %q", runs.Load(), bodies)
	}
	var he *echo.HTTPError
	if len(returned) != 2 || !errors.As(returned[0], &he) || he.Code != http.StatusPaymentRequired || returned[1] != nil {
		t.Fatalf("outer middleware saw %v, want the handler's error, then nil for the replay", returned)
	}
}
