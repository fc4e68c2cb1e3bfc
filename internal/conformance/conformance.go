// Package conformance holds the HTTP-level test suites that every adapter
// (nethttp, ginmw, echomw) must pass, so the frameworks cannot drift apart.
// Its suites live in its tests; the package itself describes the adapters.
package conformance

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/ginmw"
	"github.com/redisware/redisware/nethttp"
)

// Adapter mounts a plain handler behind a core's middleware in one
// framework, at the given paths (static paths, registered for GET).
type Adapter struct {
	// Name is the framework's name.
	Name string
	// RateLimit serves h at each path behind m.
	RateLimit func(m *ratelimit.Middleware, h http.HandlerFunc, paths ...string) http.Handler
}

// Adapters returns the adapter of every supported framework.
func Adapters() []Adapter {
	return []Adapter{
		{Name: "nethttp", RateLimit: func(m *ratelimit.Middleware, h http.HandlerFunc, paths ...string) http.Handler {
			mux := http.NewServeMux()
			for _, p := range paths {
				mux.Handle("GET "+p, nethttp.RateLimit(m)(h))
			}
			return mux
		}},
		{Name: "gin", RateLimit: func(m *ratelimit.Middleware, h http.HandlerFunc, paths ...string) http.Handler {
			gin.SetMode(gin.ReleaseMode)
			e := gin.New()
			for _, p := range paths {
				e.GET(p, ginmw.RateLimit(m), func(c *gin.Context) { h(c.Writer, c.Request) })
			}
			return e
		}},
		{Name: "echo", RateLimit: func(m *ratelimit.Middleware, h http.HandlerFunc, paths ...string) http.Handler {
			e := echo.New()
			for _, p := range paths {
				e.GET(p, func(c echo.Context) error { h(c.Response(), c.Request()); return nil }, echomw.RateLimit(m))
			}
			return e
		}},
	}
}
