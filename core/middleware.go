package core

import "net/http"

// Middleware is the HTTP side of a core, and what every framework adapter
// mounts: *ratelimit.Limiter, *httpcache.Cache, *idempotency.Guard,
// *session.Manager and *session.TokenGuard all implement it, so
// nethttp.RateLimit(limiter), ginmw.HTTPCache(cache) and
// echomw.Session(sessions) take the very value New returned.
type Middleware interface {
	// Serve handles r: it answers by itself (a replay, a cache hit), calls
	// next with a request and writer of its own, or returns a Rejection
	// without writing anything, which the caller writes (Reject) or hands
	// to its framework.
	Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *Rejection
	// Reject writes rej: through Settings.OnReject when set, else as
	// Rejection.Write does.
	Reject(w http.ResponseWriter, r *http.Request, rej *Rejection)
	// ServeHTTP is Serve, writing any rejection with Reject.
	ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler)
}
