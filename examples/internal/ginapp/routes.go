// Package ginapp is the reference app's routes on Gin (examples/gin runs
// them): the same routes, with the same behaviour, as nethttpapp and
// echoapp.
package ginapp

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/ginmw"
)

// New returns the app's routes on b. Middleware order, outside in: the
// app-wide address limit (before anything else costs Redis work), the
// session (free for routes that never use it), then per route: limits,
// idempotency, the cache.
func New(b app.Backend) (http.Handler, error) {
	d, err := app.NewDeps(b)
	if err != nil {
		return nil, err
	}
	limited, orders, book, sessions := d.Limited, d.Orders, d.Book, d.Sessions
	gin.SetMode(gin.ReleaseMode) // no debug route listing, in main or in tests
	r := gin.New()
	r.Use(gin.Recovery())
	// c.ClientIP() then reports the connection's address, like the limiter.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	r.Use(ginmw.RateLimit(d.AppLimit), ginmw.Session(sessions))
	r.GET("/metrics", gin.WrapH(d.Metrics))
	r.GET("/dashboard", gin.WrapH(d.Dashboard))
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/limited", ginmw.RateLimit(limited), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	r.POST("/orders", ginmw.Idempotency(orders), func(c *gin.Context) {
		body, err := c.GetRawData()
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "unreadable body"})
			return
		}
		req, err := app.ParseOrder(body)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, book.Create(c.Request.Context(), req))
	})
	r.POST("/login", func(c *gin.Context) {
		user, err := app.LoginUser(c.Request)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		ginmw.SessionFrom(c).Login(user)
		c.JSON(http.StatusOK, gin.H{"user": user})
	})
	r.GET("/me", func(c *gin.Context) {
		s := ginmw.SessionFrom(c)
		if s.User() == "" {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "not logged in"})
			return
		}
		visits, err := s.Incr(c.Request.Context(), "visits", 1)
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "sessions unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": s.User(), "visits": visits})
	})
	r.POST("/logout", func(c *gin.Context) {
		ginmw.SessionFrom(c).Destroy()
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	r.POST("/logout-all", func(c *gin.Context) {
		s := ginmw.SessionFrom(c)
		if s.User() == "" {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "not logged in"})
			return
		}
		n, err := sessions.RevokeAll(c.Request.Context(), s.User())
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "sessions unavailable"})
			return
		}
		s.Destroy() // already revoked; this clears the cookie
		c.JSON(http.StatusOK, gin.H{"revoked": n})
	})
	r.GET("/sessions", func(c *gin.Context) {
		s := ginmw.SessionFrom(c)
		if s.User() == "" {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "not logged in"})
			return
		}
		list, err := sessions.ListSessions(c.Request.Context(), s.User())
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "sessions unavailable"})
			return
		}
		c.JSON(http.StatusOK, app.SessionViews(list, s))
	})
	cached := d.Cached
	r.Match([]string{http.MethodGet, http.MethodHead}, "/cached", ginmw.HTTPCache(cached.Cache), func(c *gin.Context) {
		q := c.Query("q")
		app.SetCachedHeaders(c.Writer.Header(), q)
		c.Data(http.StatusOK, "application/json", cached.Lookup(q))
	})
	r.GET("/greeting", ginmw.HTTPCache(cached.Cache), func(c *gin.Context) {
		s := ginmw.SessionFrom(c)
		if err := s.Load(c.Request.Context()); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "sessions unavailable"})
			return
		}
		c.Header("Cache-Control", app.GreetingCacheControl)
		c.JSON(http.StatusOK, app.Greet(s.User()))
	})
	r.GET("/items/:id", ginmw.RateLimit(d.Items), func(c *gin.Context) {
		c.JSON(http.StatusOK, app.Item{ID: c.Param("id")})
	})
	// POST /cached/invalidate is open to anyone, as the reference app's
	// contract says; a real app must guard such a route (an admin role,
	// a network policy), or any client can empty the cache.
	r.POST("/cached/invalidate", func(c *gin.Context) {
		status, body := cached.Invalidate(c.Request)
		c.Data(status, "application/json", []byte(body))
	})
	return r, nil
}
