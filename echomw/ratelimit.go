package echomw

import (
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/ratelimit"
)

// RateLimit returns Echo middleware that checks every request against m.
// A denied request never reaches next: RateLimit sets the RateLimit,
// Retry-After and Content-Type (application/problem+json) headers and
// returns an *echo.HTTPError whose Message is the RFC 9457 problem as
// json.RawMessage, which Echo's default error handler writes as is. When
// MiddlewareOptions.OnDenied is set, it writes the 429 itself instead. The
// route for MiddlewareOptions.PerRoute is c.Path().
func RateLimit(m *ratelimit.Middleware) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			d := m.Decide(r, c.Path())
			if d.Allow {
				m.SetHeaders(c.Response().Header(), d)
				return next(c)
			}
			if d.Status == 429 && m.CustomRejection() {
				m.Reject(c.Response(), r, d)
				return nil
			}
			return httpError(c, d.Status, m.Problem(d), d.Err, func() { m.SetHeaders(c.Response().Header(), d) })
		}
	}
}
