package ginmw_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/ginmw"
)

// Gin's renderers set Content-Type after WriteHeader (Gin defers the status
// line); the stored response must still hold every header Gin sent, and a
// status set without a body must be kept too.
func TestIdempotencyKeepsGinRenderedHeaders(t *testing.T) {
	srv := redistest.New(t)
	g, err := idempotency.New(srv.Client(), idempotency.Options{Settings: core.Settings{Prefix: srv.Prefix}})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var runs atomic.Int64
	r.POST("/json", ginmw.Idempotency(g), func(c *gin.Context) {
		runs.Add(1)
		c.Header("X-Order", "1")
		c.JSON(http.StatusCreated, gin.H{"ok": true})
	})
	r.POST("/empty", ginmw.Idempotency(g), func(c *gin.Context) {
		runs.Add(1)
		c.Status(http.StatusAccepted)
	})
	for _, path := range []string{"/json", "/empty"} {
		var first *httptest.ResponseRecorder
		for i := 0; i < 2; i++ {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("{}"))
			req.Header.Set("Idempotency-Key", "k-"+path[1:])
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if i == 0 {
				first = w
				continue
			}
			if w.Code != first.Code || w.Body.String() != first.Body.String() || w.Header().Get("Idempotent-Replayed") != "true" {
				t.Fatalf("%s replay: %d %q, first %d %q", path, w.Code, w.Body, first.Code, first.Body)
			}
			for _, h := range []string{"Content-Type", "X-Order"} {
				if w.Header().Get(h) != first.Header().Get(h) {
					t.Fatalf("%s replay: %s %q, first %q", path, h, w.Header().Get(h), first.Header().Get(h))
				}
			}
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("handlers ran %d times, want 2", runs.Load())
	}
}
