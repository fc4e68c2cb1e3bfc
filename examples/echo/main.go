// Command echo is the redisware reference app on Echo. It serves the same
// routes, with the same behaviour, as examples/nethttp and examples/gin; examples/README.md lists them:
// GET /healthz, GET /limited (rate limited), POST /orders (Idempotency-Key),
// POST /login, GET /me, POST /logout, POST /logout-all and GET /sessions
// (sessions).
//
// Run it with no Redis at all (it starts an embedded miniredis), or point
// it at one with REDIS_URL or REDIS_CLUSTER_ADDRS:
//
//	go run ./examples/echo -addr :8080
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/echo
package main

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/examples/internal/app"
)

func main() { app.Main("echo", newHandler) }

// newHandler returns the app's routes on b.
func newHandler(b app.Backend) (http.Handler, error) {
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
	// Per route, not e.Group("", ...): an Echo group with middleware adds
	// catch-all routes of its own.
	withSession := echomw.Session(sessions)
	e.POST("/login", func(c echo.Context) error {
		user, err := app.LoginUser(c.Request())
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		echomw.SessionFrom(c).Login(user)
		return c.JSON(http.StatusOK, map[string]string{"user": user})
	}, withSession)
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
	}, withSession)
	e.POST("/logout", func(c echo.Context) error {
		echomw.SessionFrom(c).Destroy()
		return c.JSON(http.StatusOK, map[string]bool{"ok": true})
	}, withSession)
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
	}, withSession)
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
	}, withSession)
	cached := d.Cached
	e.Match([]string{http.MethodGet, http.MethodHead}, "/cached", func(c echo.Context) error {
		q := c.QueryParam("q")
		app.SetCachedHeaders(c.Response().Header(), q)
		return c.JSONBlob(http.StatusOK, cached.Lookup(q))
	}, echomw.HTTPCache(cached.Cache))
	e.POST("/cached/invalidate", func(c echo.Context) error {
		status, body := cached.Invalidate(c.Request())
		return c.JSONBlob(status, []byte(body))
	})
	return e, nil
}
