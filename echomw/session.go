package echomw

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/session"
)

// SessionKey is the echo.Context key under which Session stores the
// request's *session.Session.
const SessionKey = "redisware.session"

// Session returns Echo middleware that gives every request its session
// (SessionFrom(c), or session.FromContext(c.Request().Context())), saves
// what the handler changed just before the response starts, and sets the
// cookie. An error returned by next goes to the app's HTTPErrorHandler
// inside, so the session is saved with the error response. When the store
// cannot be reached, Session returns an *echo.HTTPError 503 with a problem
// body and next does not run: nobody is silently logged out.
func Session(m *session.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			orig := c.Response()
			setSession := func(r *http.Request) { c.Set(SessionKey, session.FromContext(r.Context())) }
			rej := m.Serve(orig, c.Request(), chain(c, next, setSession))
			if rej == nil {
				return nil
			}
			return httpError(c, rej.Status(), rej.Body(), rej.Err, func() {})
		}
	}
}

// SessionFrom returns the session Session attached to c, or nil.
func SessionFrom(c echo.Context) *session.Session {
	s, _ := c.Get(SessionKey).(*session.Session)
	return s
}

// TokenGuard returns Echo middleware that rejects, as an *echo.HTTPError
// with a problem body, requests whose bearer token g.Parse rejects or
// g.Deny lists as revoked (401, with WWW-Authenticate), and all requests
// while the deny list cannot be read (503).
func TokenGuard(g *session.TokenGuard) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			status, body := g.Check(c.Request())
			if status == 0 {
				return next(c)
			}
			return httpError(c, status, body, nil, func() {
				if status == http.StatusUnauthorized {
					c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				}
			})
		}
	}
}
