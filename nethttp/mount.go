package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core"
)

// Mount returns middleware that serves every request through m, the value a
// core's New returned (a *ratelimit.Limiter, *httpcache.Cache,
// *idempotency.Guard, *session.Manager or *session.TokenGuard): m answers
// by itself, rejects (through its OnReject, by default an RFC 9457 problem
// body), or runs next. RateLimit, HTTPCache, Idempotency, Session and
// TokenGuard are Mount under the name of their core.
func Mount(m core.Middleware) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.ServeHTTP(w, r, next)
		})
	}
}
