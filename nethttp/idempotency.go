package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/idempotency"
)

// Idempotency returns middleware that guards next with g: the first request
// with an Idempotency-Key runs (next reads the key with
// idempotency.KeyFromContext) and its response is stored; retries get that
// response again, with Idempotent-Replayed: true, and never run next. The
// route that scopes a record is Request.Pattern, set by http.ServeMux.
func Idempotency(g *idempotency.Guard, opts ...Option) func(http.Handler) http.Handler {
	return Mount(g, opts...)
}
