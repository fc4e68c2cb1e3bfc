package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/ratelimit"
)

// RateLimit returns middleware that checks every request against l. A
// denied request never reaches next: it gets l's rejection (by default 429
// with an application/problem+json body and Retry-After). Allowed requests
// carry the RateLimit headers, and next reads l's Result with
// ratelimit.ResultFromContext. The route of Options.PerRoute is
// Request.Pattern, which http.ServeMux sets for the handlers it dispatches
// to.
func RateLimit(l *ratelimit.Limiter, opts ...Option) func(http.Handler) http.Handler {
	return Mount(l, opts...)
}

// RateLimitPlans returns middleware that applies, per request, the limiter
// of the request's plan (see ratelimit.Plans), as RateLimit does for one.
func RateLimitPlans(p *ratelimit.Plans, opts ...Option) func(http.Handler) http.Handler {
	return Mount(p, opts...)
}
