package ginmw

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/idempotency"
)

// Idempotency returns a Gin handler that guards the rest of the chain with
// g: the first request with an Idempotency-Key runs and its response is
// stored; retries get that response again, with Idempotent-Replayed: true,
// and the chain is aborted. The route that scopes a record is
// c.FullPath().
func Idempotency(g *idempotency.Guard) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Writer
		ran := false
		rej := g.Serve(orig, c.Request, c.FullPath(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			gw := &writer{ResponseWriter: orig, w: w}
			c.Writer = gw
			defer func() { c.Writer = orig }()
			c.Next()
			gw.commit() // a status set without a body, such as c.Status(204)
		}))
		if rej != nil {
			g.Reject(orig, c.Request, rej)
		}
		if !ran {
			c.Abort()
		}
	}
}
