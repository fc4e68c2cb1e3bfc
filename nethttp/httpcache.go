package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/httpcache"
)

// HTTPCache returns middleware that answers requests from m's shared cache
// and stores next's responses as HTTP allows (RFC 9111). A request with
// Cache-Control: only-if-cached that nothing stored answers gets 504 with
// an application/problem+json body. A stale-while-revalidate refresh runs
// next in a goroutine of its own, with a copy of the request whose context
// outlives it.
func HTTPCache(m *httpcache.Middleware) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.ServeHTTP(w, r, next)
		})
	}
}
