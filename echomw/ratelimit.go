package echomw

import (
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/ratelimit"
)

// RateLimit returns Echo middleware that checks every request against l.
// A denied request never reaches next: it is rejected (see Mount) with
// 429, the RateLimit and Retry-After fields set. Allowed requests carry the
// RateLimit headers, and next reads l's Result with
// ratelimit.ResultFromContext(c.Request().Context()). The route of
// Options.PerRoute is c.Path().
func RateLimit(l *ratelimit.Limiter, opts ...Option) echo.MiddlewareFunc { return Mount(l, opts...) }

// RateLimitPlans returns Echo middleware that applies, per request, the
// limiter of the request's plan (see ratelimit.Plans; echomw.Choose writes
// its Choose against the echo.Context), as RateLimit does for one.
func RateLimitPlans(p *ratelimit.Plans, opts ...Option) echo.MiddlewareFunc { return Mount(p, opts...) }
