// Package conformance holds the HTTP-level test suites that every adapter
// (nethttp, ginmw, echomw) must pass, so the frameworks cannot drift apart.
// Its suites live in its tests; the package itself describes the adapters.
package conformance

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/ginmw"
	"github.com/redisware/redisware/nethttp"
)

// Adapter mounts a plain handler behind a core's middleware in one
// framework.
type Adapter struct {
	// Name is the framework's name.
	Name string
	// RateLimit serves h for GET at each (static) path behind m.
	RateLimit func(m *ratelimit.Limiter, h http.HandlerFunc, paths ...string) http.Handler
	// Idempotency serves h for GET, POST and PATCH at path behind g.
	Idempotency func(g *idempotency.Guard, h http.HandlerFunc, path string) http.Handler
	// HTTPCache serves h for GET, HEAD, POST and DELETE at each (static)
	// path behind m.
	HTTPCache func(m *httpcache.Cache, h http.HandlerFunc, paths ...string) http.Handler
}

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPatch}

// Adapters returns the adapter of every supported framework.
func Adapters() []Adapter {
	return []Adapter{
		{Name: "nethttp", RateLimit: stdRateLimit, Idempotency: stdIdempotency, HTTPCache: stdHTTPCache},
		{Name: "gin", RateLimit: ginRateLimit, Idempotency: ginIdempotency, HTTPCache: ginHTTPCache},
		{Name: "echo", RateLimit: echoRateLimit, Idempotency: echoIdempotency, HTTPCache: echoHTTPCache},
	}
}

func stdRateLimit(m *ratelimit.Limiter, h http.HandlerFunc, paths ...string) http.Handler {
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.Handle("GET "+p, nethttp.RateLimit(m)(h))
	}
	return mux
}

func stdIdempotency(g *idempotency.Guard, h http.HandlerFunc, path string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(path, nethttp.Idempotency(g)(h))
	return mux
}

// cacheMethods are the methods the HTTPCache wiring serves.
var cacheMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete}

func stdHTTPCache(m *httpcache.Cache, h http.HandlerFunc, paths ...string) http.Handler {
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.Handle(p, nethttp.HTTPCache(m)(h))
	}
	return mux
}

func newGin() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	return gin.New()
}

func ginHandler(h http.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) { h(c.Writer, c.Request) }
}

func ginRateLimit(m *ratelimit.Limiter, h http.HandlerFunc, paths ...string) http.Handler {
	e := newGin()
	for _, p := range paths {
		e.GET(p, ginmw.RateLimit(m), ginHandler(h))
	}
	return e
}

func ginIdempotency(g *idempotency.Guard, h http.HandlerFunc, path string) http.Handler {
	e := newGin()
	for _, m := range methods {
		e.Handle(m, path, ginmw.Idempotency(g), ginHandler(h))
	}
	return e
}

func ginHTTPCache(m *httpcache.Cache, h http.HandlerFunc, paths ...string) http.Handler {
	e := newGin()
	for _, p := range paths {
		for _, method := range cacheMethods {
			e.Handle(method, p, ginmw.HTTPCache(m), ginHandler(h))
		}
	}
	return e
}

// newEcho returns an Echo instance that renders redisware rejections as
// the other frameworks do: RFC 9457 problem bodies.
func newEcho() *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
	return e
}

func echoHandler(h http.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { h(c.Response(), c.Request()); return nil }
}

func echoRateLimit(m *ratelimit.Limiter, h http.HandlerFunc, paths ...string) http.Handler {
	e := newEcho()
	for _, p := range paths {
		e.GET(p, echoHandler(h), echomw.RateLimit(m))
	}
	return e
}

func echoIdempotency(g *idempotency.Guard, h http.HandlerFunc, path string) http.Handler {
	e := newEcho()
	for _, m := range methods {
		e.Add(m, path, echoHandler(h), echomw.Idempotency(g))
	}
	return e
}

func echoHTTPCache(m *httpcache.Cache, h http.HandlerFunc, paths ...string) http.Handler {
	e := newEcho()
	for _, p := range paths {
		for _, method := range cacheMethods {
			e.Add(method, p, echoHandler(h), echomw.HTTPCache(m))
		}
	}
	return e
}
