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
// (SessionFrom(c), or session.FromContext(c.Request.Context())), saves what
// the handlers changed just before the response starts, and sets the
// cookie. When the store cannot be reached the chain is aborted with
// m.ErrorFunc's answer (503 by default): nobody is silently logged out.
func Session(m *session.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		setSession := func(r *http.Request) { c.Set(SessionKey, session.FromContext(r.Context())) }
		serveCore(c, setSession, func(orig gin.ResponseWriter, next http.Handler) {
			if rej := m.Serve(orig, c.Request, next); rej != nil {
				m.Reject(orig, c.Request, rej)
			}
		})
	}
}

// SessionFrom returns the session Session attached to c, or nil.
func SessionFrom(c *gin.Context) *session.Session {
	s, _ := c.Get(SessionKey)
	ss, _ := s.(*session.Session)
	return ss
}

// TokenGuard returns a Gin handler that aborts with 401 requests whose
// bearer token g.Parse rejects or g.Deny lists as revoked, and with 503
// when the deny list cannot be read.
func TokenGuard(g *session.TokenGuard) gin.HandlerFunc {
	return func(c *gin.Context) {
		if status, body := g.Check(c.Request); status != 0 {
			session.WriteRejection(c.Writer, status, body)
			c.Abort()
			return
		}
		c.Next()
	}
}
