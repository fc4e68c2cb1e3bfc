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
		serveCore(c, nil, func(orig gin.ResponseWriter, next http.Handler) {
			if rej := g.Serve(orig, c.Request, c.FullPath(), next); rej != nil {
				g.Reject(orig, c.Request, rej)
			}
		})
	}
}
