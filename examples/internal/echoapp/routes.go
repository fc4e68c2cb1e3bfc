// Package echoapp is the reference app's routes on Echo (examples/echo
// runs them): the same routes, with the same behaviour, as nethttpapp and
// ginapp.
package echoapp

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/examples/internal/app"
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
	e := echo.New()
	// redisware's rejections are written as their core writes them (RFC
	// 9457 problem bodies); other errors with a plain message become
	// {"error": message}, as in the other two apps.
	e.HTTPErrorHandler = echomw.ErrorHandler(func(err error, c echo.Context) {
		if c.Response().Committed {
			return // answered already: by the handler, or inside a redisware middleware
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			if msg, ok := he.Message.(string); ok {
				if err := c.JSON(he.Code, map[string]string{"error": msg}); err != nil {
					c.Logger().Error(err)
				}
				return
			}
		}
		e.DefaultHTTPErrorHandler(err, c)
	})
	// app.Run serves e; these keep e.Start quiet too, should anyone use it.
	e.HideBanner = true
	e.HidePort = true
	// c.RealIP() then reports the connection's address, like the limiter.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(echomw.RateLimit(d.AppLimit), echomw.Session(sessions))
	e.GET("/metrics", echo.WrapHandler(d.Metrics))
	e.GET("/dashboard", echo.WrapHandler(d.Dashboard))
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/limited", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]bool{"ok": true})
	}, echomw.RateLimit(limited))
	e.POST("/orders", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "unreadable body")
		}
		req, err := app.ParseOrder(body)
		if err != nil {
			// Returned, not written: the guard stores what the error
			// handler makes of it.
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		return c.JSON(http.StatusCreated, book.Create(c.Request().Context(), req))
	}, echomw.Idempotency(orders))
	e.POST("/login", func(c echo.Context) error {
		user, err := app.LoginUser(c.Request())
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		echomw.SessionFrom(c).Login(user)
		return c.JSON(http.StatusOK, map[string]string{"user": user})
	})
	e.GET("/me", func(c echo.Context) error {
		s := echomw.SessionFrom(c)
		if s.User() == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "not logged in")
		}
		visits, err := s.Incr(c.Request().Context(), "visits", 1)
		if err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "sessions unavailable")
		}
		return c.JSON(http.StatusOK, map[string]any{"user": s.User(), "visits": visits})
	})
	e.POST("/logout", func(c echo.Context) error {
		echomw.SessionFrom(c).Destroy()
		return c.JSON(http.StatusOK, map[string]bool{"ok": true})
	})
	e.POST("/logout-all", func(c echo.Context) error {
		s := echomw.SessionFrom(c)
		if s.User() == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "not logged in")
		}
		n, err := sessions.RevokeAll(c.Request().Context(), s.User())
		if err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "sessions unavailable")
		}
		s.Destroy() // already revoked; this clears the cookie
		return c.JSON(http.StatusOK, map[string]int{"revoked": n})
	})
	e.GET("/sessions", func(c echo.Context) error {
		s := echomw.SessionFrom(c)
		if s.User() == "" {
			return echo.NewHTTPError(http.StatusUnauthorized, "not logged in")
		}
		list, err := sessions.ListSessions(c.Request().Context(), s.User())
		if err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "sessions unavailable")
		}
		return c.JSON(http.StatusOK, app.SessionViews(list, s))
	})
	cached := d.Cached
	e.Match([]string{http.MethodGet, http.MethodHead}, "/cached", func(c echo.Context) error {
		q := c.QueryParam("q")
		app.SetCachedHeaders(c.Response().Header(), q)
		return c.JSONBlob(http.StatusOK, cached.Lookup(q))
	}, echomw.HTTPCache(cached.Cache))
	e.GET("/greeting", func(c echo.Context) error {
		s := echomw.SessionFrom(c)
		if err := s.Load(c.Request().Context()); err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "sessions unavailable")
		}
		c.Response().Header().Set("Cache-Control", app.GreetingCacheControl)
		return c.JSON(http.StatusOK, app.Greet(s.User()))
	}, echomw.HTTPCache(cached.Cache))
	e.GET("/items/:id", func(c echo.Context) error {
		return c.JSON(http.StatusOK, app.Item{ID: c.Param("id")})
	}, echomw.RateLimit(d.Items))
	// POST /cached/invalidate is open to anyone, as the reference app's
	// contract says; a real app must guard such a route (an admin role,
	// a network policy), or any client can empty the cache.
	e.POST("/cached/invalidate", func(c echo.Context) error {
		status, body := cached.Invalidate(c.Request())
		return c.JSONBlob(status, []byte(body))
	})
	return e, nil
}
