package ginmw

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/session"
)

// SessionKey is the gin.Context key under which Session stores the
// request's *session.Session.
const SessionKey = "redisware.session"

// Session returns a Gin handler that gives every request its session
// (SessionFrom(c), or session.FromContext(c.Request.Context())), loaded
// from Redis only when a handler first uses it; it saves what the handlers
// changed just before the response starts, and sets the cookie when it
// changed. A request whose handlers never use the session is served as
// usual while Redis is down; one that uses it then gets m's rejection (503
// by default) in place of its response: nobody is silently logged out.
func Session(m *session.Manager, opts ...Option) gin.HandlerFunc {
	return mount(m, func(c *gin.Context, r *http.Request) {
		c.Set(SessionKey, session.FromContext(r.Context()))
	}, opts)
}

// SessionFrom returns the session Session attached to c, or nil.
func SessionFrom(c *gin.Context) *session.Session {
	s, _ := c.Get(SessionKey)
	ss, _ := s.(*session.Session)
	return ss
}

// TokenGuard returns a Gin handler that aborts with 401 requests whose
// bearer token the guard's Parse rejects or its DenyList lists as revoked,
// and with 503 when the deny list cannot be read.
func TokenGuard(g *session.TokenGuard, opts ...Option) gin.HandlerFunc { return Mount(g, opts...) }
