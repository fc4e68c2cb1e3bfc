package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/ratelimit"
)

// RateLimit returns middleware that checks every request against m. A
// denied request never reaches next: it gets m's rejection (by default 429
// with an application/problem+json body and Retry-After). Allowed requests
// carry the RateLimit headers. The route for MiddlewareOptions.PerRoute is
// Request.Pattern, which http.ServeMux sets for the handlers it dispatches
// to.
func RateLimit(m *ratelimit.Middleware) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := m.Decide(r, r.Pattern)
			if !d.Allow {
				m.Reject(w, r, d)
				return
			}
			m.SetHeaders(w.Header(), d)
			next.ServeHTTP(w, r)
		})
	}
}
