package echomw

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/httpcache"
)

// HTTPCache returns Echo middleware that answers requests from c's shared
// cache, or runs next and stores its response as HTTP allows (RFC 9111).
// An error returned by next is handed to the app's HTTPErrorHandler inside
// the middleware, so the error response is what the cache sees (and, when
// it is cacheable, stores), and it is returned up the chain too. A request
// with Cache-Control: only-if-cached that nothing stored answers is
// rejected with 504 (see Mount). A stale-while-revalidate refresh runs
// next in a goroutine of its own, on a new echo.Context with the request's
// path and parameters (values set with c.Set do not carry over). For a
// route with options of its own, mount c.WithRoute(...).
func HTTPCache(c *httpcache.Cache, opts ...Option) echo.MiddlewareFunc {
	cfg := configure(opts)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if cfg.skipper != nil && cfg.skipper(ec) {
				return next(ec)
			}
			setPattern(ec)
			withContext(ec)
			e := ec.Echo()
			path := ec.Path()
			names := append([]string(nil), ec.ParamNames()...)
			values := append([]string(nil), ec.ParamValues()...)
			background := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				bc := e.NewContext(r, w)
				// The request's context holds the echo.Context that served
				// it, pooled and reused by now: hooks must see this one.
				bc.SetRequest(r.WithContext(context.WithValue(r.Context(), echoKey{}, bc)))
				bc.SetPath(path)
				bc.SetParamNames(names...)
				bc.SetParamValues(values...)
				if err := next(bc); err != nil {
					bc.Error(err)
				}
			})
			var herr error
			if rej := c.ServeWithRefresh(ec.Response(), ec.Request(), chain(ec, next, nil, &herr), background); rej != nil {
				return reject(ec, c, rej)
			}
			return herr
		}
	}
}
