package ginmw

import (
	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/ratelimit"
)

// RateLimit returns a Gin handler that checks every request against m. A
// denied request is answered with m's rejection (by default 429 with an
// application/problem+json body and Retry-After) and the chain is aborted.
// Allowed requests carry the RateLimit headers. The route for
// MiddlewareOptions.PerRoute is c.FullPath().
func RateLimit(m *ratelimit.Middleware) gin.HandlerFunc {
	return func(c *gin.Context) {
		d := m.Decide(c.Request, c.FullPath())
		if !d.Allow {
			m.Reject(c.Writer, c.Request, d)
			c.Abort()
			return
		}
		m.SetHeaders(c.Writer.Header(), d)
		c.Next()
	}
}
