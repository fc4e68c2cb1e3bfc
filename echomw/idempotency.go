package echomw

import (
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/idempotency"
)

// Idempotency returns Echo middleware that guards next with g: the first
// request with an Idempotency-Key runs (next reads the key with
// idempotency.KeyFromContext(c.Request().Context())) and its response is
// stored; retries get that response again, with Idempotent-Replayed: true,
// and never run next. An error returned by next is handed to the app's
// HTTPErrorHandler inside the guard, so the error response is what gets
// stored and replayed, and it is returned up the chain too. Rejections
// (400, 409, 413, 422, 503) are returned as described on Mount. The route
// that scopes a record is c.Path().
func Idempotency(g *idempotency.Guard, opts ...Option) echo.MiddlewareFunc { return Mount(g, opts...) }
