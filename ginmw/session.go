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
		orig := c.Writer
		ran := false
		rej := m.Serve(orig, c.Request, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			c.Set(SessionKey, session.FromContext(r.Context()))
			gw := &writer{ResponseWriter: orig, w: w}
			c.Writer = gw
			defer func() { c.Writer = orig }()
			c.Next()
			gw.commit() // a status set without a body, such as c.Status(204)
		}))
		if rej != nil {
			m.Reject(orig, c.Request, rej)
		}
		if !ran {
			c.Abort()
		}
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
