package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/session"
)

// Session returns middleware that gives every request its session
// (session.FromContext(r.Context())), loaded from Redis only when the
// handler first uses it; it saves what the handler changed just before the
// response starts, and sets the cookie when it changed. A request whose
// handler never uses its session costs no Redis call and is served as
// usual while Redis is down; one that uses it then gets m's rejection (503
// by default) in place of the handler's response: nobody is silently
// logged out.
func Session(m *session.Manager, opts ...Option) func(http.Handler) http.Handler {
	return Mount(m, opts...)
}

// TokenGuard returns middleware that answers 401 to requests whose bearer
// token the guard's Parse rejects or its DenyList lists as revoked, and 503
// when the deny list cannot be read.
func TokenGuard(g *session.TokenGuard, opts ...Option) func(http.Handler) http.Handler {
	return Mount(g, opts...)
}
