package echomw_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/echomw"
)

// A per-user limit: the app's auth middleware stores the user with c.Set,
// and the limiter's Key reads it with c.Get. A request without a user
// counts against its client address.
func ExampleKey() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)},
		Key: echomw.Key(func(c echo.Context) (string, error) {
			if user, _ := c.Get("user").(string); user != "" {
				return "user:" + user, nil
			}
			return "", nil // the client address
		}),
	})
	if err != nil {
		panic(err)
	}
	auth := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set("user", c.Request().Header.Get("X-User")) // your authentication here
			return next(c)
		}
	}
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
	e.GET("/api", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, auth, echomw.RateLimit(limiter))

	send := func(user, addr string) int {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		req.RemoteAddr = addr + ":1234"
		req.Header.Set("X-User", user)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w.Code
	}
	fmt.Println("alice:", send("alice", "203.0.113.7"), send("alice", "198.51.100.9")) // one user, two addresses
	fmt.Println("bob:", send("bob", "203.0.113.7"))
	fmt.Println("guest:", send("", "203.0.113.7"), send("", "203.0.113.7"))
	// Output:
	// alice: 200 429
	// bob: 200
	// guest: 200 429
}

// A rejection answered in the app's own JSON shape, with c.JSON;
// ErrorHandler calls it with the Retry-After and RateLimit fields already
// set.
func ExampleOnReject() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	shared := core.Settings{
		OnReject: echomw.OnReject(func(c echo.Context, rej *core.Rejection) error {
			return c.JSON(rej.Status, map[string]string{"error": rej.TitleOrStatusText(), "detail": rej.Detail})
		}),
	}
	limiter, err := ratelimit.New(rdb, ratelimit.Options{Settings: shared, Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
	e.GET("/api", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, echomw.RateLimit(limiter))

	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api", nil))
		fmt.Println(w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"))
		fmt.Println(w.Body)
	}
	// Output:
	// 200  text/plain; charset=UTF-8
	// ok
	// 429 60 application/json
	// {"detail":"Rate limit \"api\" of 1 per 1m0s exceeded; retry in 60 s.","error":"Too Many Requests"}
}

// Skipper keeps the health check out of the app-wide limit, as Echo's own
// middleware do with their Config.Skipper: the limiter does not see it at
// all.
func ExampleSkipper() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{Name: "site", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
	e.Use(echomw.RateLimit(limiter, echomw.Skipper(func(c echo.Context) bool { return c.Path() == "/healthz" })))
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "home") })

	for _, path := range []string{"/healthz", "/healthz", "/", "/"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, w.Code, "limited:", w.Header().Get("RateLimit") != "")
	}
	// Output:
	// /healthz 200 limited: false
	// /healthz 200 limited: false
	// / 200 limited: true
	// / 429 limited: true
}

// KeyByRealIP counts clients by Echo's c.RealIP(), once the app has set an
// IPExtractor that believes only its own proxies: two requests through
// those proxies from one client share its budget, and a client that sends
// its own X-Forwarded-For is counted by its real address.
func ExampleKeyByRealIP() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{
		Name:   "api",
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)},
		Key:    echomw.KeyByRealIP(),
	})
	if err != nil {
		panic(err)
	}
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8") // the app's load balancers
	e := echo.New()
	e.IPExtractor = echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxies))
	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
	e.GET("/api", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, echomw.RateLimit(limiter))

	send := func(from, forwardedFor string) int {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		req.RemoteAddr = from + ":1234"
		req.Header.Set("X-Forwarded-For", forwardedFor)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w.Code
	}
	fmt.Println(send("10.0.0.1", "203.0.113.7"))     // through one proxy
	fmt.Println(send("10.0.0.2", "203.0.113.7"))     // the same client through another
	fmt.Println(send("198.51.100.9", "203.0.113.7")) // not a proxy: its header is not believed
	// Output:
	// 200
	// 429
	// 200
}

// ErrorHandler writes redisware's rejections as their core would (by
// default an RFC 9457 problem body) and hands every other error to the
// app's own handler. (The request that failed still counted against the
// limit.)
func ExampleErrorHandler() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	limiter, err := ratelimit.New(rdb, ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = echomw.ErrorHandler(func(err error, c echo.Context) {
		_ = c.String(http.StatusInternalServerError, "the app's own error page")
	})
	e.GET("/api", func(c echo.Context) error {
		if c.QueryParam("fail") != "" {
			return errors.New("database down")
		}
		return c.String(http.StatusOK, "ok")
	}, echomw.RateLimit(limiter))

	for _, target := range []string{"/api?fail=1", "/api"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	// Output:
	// 500 text/plain; charset=UTF-8 the app's own error page
	// 429 application/problem+json {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit \"api\" of 1 per 1m0s exceeded; retry in 60 s."}
}
