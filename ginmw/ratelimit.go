package ginmw

import (
	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/ratelimit"
)

// RateLimit returns a Gin handler that checks every request against l. A
// denied request is answered with l's rejection (by default 429 with an
// application/problem+json body and Retry-After) and the chain is aborted.
// Allowed requests carry the RateLimit headers, and later handlers read
// l's Result with ratelimit.ResultFromContext(c.Request.Context()). The
// route of Options.PerRoute is c.FullPath().
func RateLimit(l *ratelimit.Limiter, opts ...Option) gin.HandlerFunc { return Mount(l, opts...) }

// RateLimitPlans returns a Gin handler that applies, per request, the
// limiter of the request's plan (see ratelimit.Plans; ginmw.Choose writes
// its Choose against the *gin.Context), as RateLimit does for one.
func RateLimitPlans(p *ratelimit.Plans, opts ...Option) gin.HandlerFunc { return Mount(p, opts...) }
