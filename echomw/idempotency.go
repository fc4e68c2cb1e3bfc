package echomw

import (
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/idempotency"
)

// Idempotency returns Echo middleware that guards next with g: the first
// request with an Idempotency-Key runs and its response is stored; retries
// get that response again, with Idempotent-Replayed: true, and never run
// next. An error returned by next is handed to the app's HTTPErrorHandler
// inside the guard, so the error response is what gets stored and
// replayed. Rejections (400, 409, 413, 422, 503) are returned as
// *echo.HTTPError with a problem+json body. The route that scopes a record
// is c.Path().
func Idempotency(g *idempotency.Guard) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			orig := c.Response()
			rej := g.Serve(orig, c.Request(), c.Path(), chain(c, next, nil))
			if rej == nil {
				return nil
			}
			if g.CustomRejection() {
				g.Reject(orig, c.Request(), rej)
				return nil
			}
			return httpError(c, rej.Status, rej.Body(), rej.Err, func() { rej.SetHeaders(orig.Header()) })
		}
	}
}
