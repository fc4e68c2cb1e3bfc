package ginmw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/ginmw"
)

// A per-user limit: the app's auth middleware stores the user with c.Set,
// and the limiter's Key reads it with c.GetString. A request without a user
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
		Key: ginmw.Key(func(c *gin.Context) (string, error) {
			if user := c.GetString("user"); user != "" {
				return "user:" + user, nil
			}
			return "", nil // the client address
		}),
	})
	if err != nil {
		panic(err)
	}
	auth := func(c *gin.Context) {
		c.Set("user", c.GetHeader("X-User")) // your authentication here
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api", auth, ginmw.RateLimit(limiter), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	send := func(user, addr string) int {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		req.RemoteAddr = addr + ":1234"
		req.Header.Set("X-User", user)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
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

// A rejection answered in the app's own JSON shape, with c.JSON; its
// Retry-After and RateLimit fields are already set.
func ExampleOnReject() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	shared := core.Settings{
		OnReject: ginmw.OnReject(func(c *gin.Context, rej *core.Rejection) {
			c.JSON(rej.Status, gin.H{"error": rej.TitleOrStatusText(), "detail": rej.Detail})
		}),
	}
	limiter, err := ratelimit.New(rdb, ratelimit.Options{Settings: shared, Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
	if err != nil {
		panic(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api", ginmw.RateLimit(limiter), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api", nil))
		fmt.Println(w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"))
		fmt.Println(w.Body)
	}
	// Output:
	// 200  text/plain; charset=utf-8
	// ok
	// 429 60 application/json; charset=utf-8
	// {"detail":"Rate limit \"api\" of 1 per 1m0s exceeded; retry in 60 s.","error":"Too Many Requests"}
}

// Skip keeps the health check out of the app-wide limit: the limiter does
// not see it at all.
func ExampleSkip() {
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
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginmw.RateLimit(limiter, ginmw.Skip(func(c *gin.Context) bool { return c.FullPath() == "/healthz" })))
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "home") })

	for _, path := range []string{"/healthz", "/healthz", "/", "/"} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, w.Code, "limited:", w.Header().Get("RateLimit") != "")
	}
	// Output:
	// /healthz 200 limited: false
	// /healthz 200 limited: false
	// / 200 limited: true
	// / 429 limited: true
}

// KeyByClientIP counts clients by Gin's c.ClientIP(), once the app has told
// Gin which proxies to believe: two requests through the app's proxies
// from one client share its budget, and a client that sends its own
// X-Forwarded-For is counted by its real address.
func ExampleKeyByClientIP() {
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
		Key:    ginmw.KeyByClientIP(),
	})
	if err != nil {
		panic(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies([]string{"10.0.0.0/8"}); err != nil { // the app's load balancers
		panic(err)
	}
	r.GET("/api", ginmw.RateLimit(limiter), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	send := func(from, forwardedFor string) int {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		req.RemoteAddr = from + ":1234"
		req.Header.Set("X-Forwarded-For", forwardedFor)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
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
