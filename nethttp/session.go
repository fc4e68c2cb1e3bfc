package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/session"
)

// Session returns middleware that gives every request its session
// (session.FromContext(r.Context())), saves what the handler changed just
// before the response starts, and sets the cookie. When the store cannot be
// reached the request gets m.ErrorFunc's answer (503 by default) and next
// does not run: nobody is silently logged out.
func Session(m *session.Manager) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.ServeHTTP(w, r, next)
		})
	}
}

// TokenGuard returns middleware that answers 401 to requests whose bearer
// token g.Parse rejects or g.Deny lists as revoked, and 503 when the deny
// list cannot be read.
func TokenGuard(g *session.TokenGuard) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.ServeHTTP(w, r, next)
		})
	}
}
