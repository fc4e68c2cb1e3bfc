package nethttp

import (
	"net/http"
	"reflect"

	"github.com/redisware/redisware/core"
)

// Option changes how a core is mounted.
type Option func(*mount)

type mount struct {
	mux *http.ServeMux
}

// RoutesFrom makes middleware mounted around mux (before it dispatches, as
// an app-wide rate limiter or session layer is) find each request's route
// as mux will: with mux.Handler(r), which gives the pattern before
// dispatch. Without it, such middleware sees no route (http.ServeMux sets
// Request.Pattern only when it dispatches), and every request shares the
// one constant route core.NoRoute; the raw path never becomes a route.
// Middleware mounted on a route inside the mux needs no option.
func RoutesFrom(mux *http.ServeMux) Option {
	return func(m *mount) { m.mux = mux }
}

// Mount returns middleware that serves every request through m, the value a
// core's New returned (a *ratelimit.Limiter, *httpcache.Cache,
// *idempotency.Guard, *session.Manager or *session.TokenGuard): m answers
// by itself, rejects (through its OnReject, by default an RFC 9457 problem
// body), or runs next. RateLimit, HTTPCache, Idempotency, Session and
// TokenGuard are Mount under the name of their core.
func Mount(m core.Middleware, opts ...Option) func(http.Handler) http.Handler {
	var cfg mount
	for _, o := range opts {
		o(&cfg)
	}
	return func(next http.Handler) http.Handler {
		if cfg.mux == nil {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				m.ServeHTTP(w, r, next)
			})
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Pattern == "" {
				r.Pattern = routeOf(cfg.mux, r)
			}
			m.ServeHTTP(w, r, next)
		})
	}
}

// redirectType is the type of the handler http.ServeMux answers with when
// it redirects (to add a trailing slash, or to a cleaned path).
var redirectType = reflect.TypeOf(http.RedirectHandler("/", http.StatusMovedPermanently))

// routeOf returns the pattern mux will dispatch r to, or "" when it will
// answer 404, 405 or a redirect: for a redirect, Handler reports the path it
// redirects to, which the client controls, never a route.
func routeOf(mux *http.ServeMux, r *http.Request) string {
	h, pattern := mux.Handler(r)
	if reflect.TypeOf(h) == redirectType {
		return ""
	}
	return pattern
}
