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
// inside, so the session is saved with the error response, and it is
// returned up the chain too. When the store cannot be reached the request
// is rejected with 503 (see Mount) and next does not run: nobody is
// silently logged out.
func Session(m *session.Manager) echo.MiddlewareFunc {
	return mount(m, func(c echo.Context, r *http.Request) { c.Set(SessionKey, session.FromContext(r.Context())) })
}

// SessionFrom returns the session Session attached to c, or nil.
func SessionFrom(c echo.Context) *session.Session {
	s, _ := c.Get(SessionKey).(*session.Session)
	return s
}

// TokenGuard returns Echo middleware that rejects (see Mount) requests
// whose bearer token the guard's Parse rejects or its DenyList lists as
// revoked (401, with WWW-Authenticate), and all requests while the deny
// list cannot be read (503).
func TokenGuard(g *session.TokenGuard) echo.MiddlewareFunc { return Mount(g) }
