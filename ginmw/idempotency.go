package ginmw

import (
	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/idempotency"
)

// Idempotency returns a Gin handler that guards the rest of the chain with
// g: the first request with an Idempotency-Key runs (its handlers read the
// key with idempotency.KeyFromContext(c.Request.Context())) and its
// response is stored; retries get that response again, with
// Idempotent-Replayed: true, and the chain is aborted. The route that
// scopes a record is c.FullPath().
func Idempotency(g *idempotency.Guard, opts ...Option) gin.HandlerFunc { return Mount(g, opts...) }
