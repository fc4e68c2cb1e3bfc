package echomw

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/httpcache"
)

// HTTPCache returns Echo middleware that answers requests from m's shared
// cache, or runs next and stores its response as HTTP allows (RFC 9111).
// An error returned by next is handed to the app's HTTPErrorHandler inside
// the middleware, so the error response is what the cache sees (and, when
// it is cacheable, stores). A request with Cache-Control: only-if-cached
// that nothing stored answers gets an *echo.HTTPError 504 with a
// problem+json body. A stale-while-revalidate refresh runs next in a
// goroutine of its own, on a new echo.Context with the request's path and
// parameters (values set with c.Set do not carry over).
func HTTPCache(m *httpcache.Middleware) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			orig := c.Response()
			e := c.Echo()
			path := c.Path()
			names := append([]string(nil), c.ParamNames()...)
			values := append([]string(nil), c.ParamValues()...)
			background := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				bc := e.NewContext(r, w)
				bc.SetPath(path)
				bc.SetParamNames(names...)
				bc.SetParamValues(values...)
				if err := next(bc); err != nil {
					bc.Error(err)
				}
			})
			rej := m.Serve(orig, c.Request(), chain(c, next, nil), background)
			if rej == nil {
				return nil
			}
			return httpError(c, rej.Status, rej.Body(), nil, func() { rej.SetHeaders(orig.Header()) })
		}
	}
}
