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
// (SessionFrom(c), or session.FromContext(c.Request().Context())), loaded
// from Redis only when the handler first uses it; it saves what the handler
// changed just before the response starts, and sets the cookie when it
// changed. An error returned by next goes to the app's HTTPErrorHandler
// inside, so the session is saved with the error response, and it is
// returned up the chain too. A request whose handler never uses the
// session is served as usual while Redis is down; one that uses it then
// gets m's rejection (503 by default, written through m's Reject, not the
// HTTPErrorHandler) in place of its response: nobody is silently logged out.
func Session(m *session.Manager, opts ...Option) echo.MiddlewareFunc {
	return mount(m, func(c echo.Context, r *http.Request) { c.Set(SessionKey, session.FromContext(r.Context())) }, opts)
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
func TokenGuard(g *session.TokenGuard, opts ...Option) echo.MiddlewareFunc { return Mount(g, opts...) }
