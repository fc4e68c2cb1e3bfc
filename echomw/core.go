package echomw

import (
	"errors"
	"net/http"
	"reflect"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/internal/route"
)

// Mount returns Echo middleware that serves every request through m, the
// value a core's New returned (a *ratelimit.Limiter, *httpcache.Cache,
// *idempotency.Guard, *session.Manager or *session.TokenGuard): m answers
// by itself, runs next, or rejects the request. A rejection is returned as
// an *echo.HTTPError whose Message is the problem's title (a plain string)
// and whose Internal unwraps to the *core.Rejection, with the rejection's
// header fields (Retry-After, RateLimit, ...) already set and no
// Content-Type; ErrorHandler renders it as the core would (its OnReject,
// by default an RFC 9457 problem body). RateLimit, HTTPCache, Idempotency,
// Session and TokenGuard are Mount under the name of their core.
func Mount(m core.Middleware, opts ...Option) echo.MiddlewareFunc { return mount(m, nil, opts) }

func mount(m core.Middleware, onRequest func(c echo.Context, r *http.Request), opts []Option) echo.MiddlewareFunc {
	cfg := configure(opts)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.skipper != nil && cfg.skipper(c) {
				return next(c)
			}
			setPattern(c)
			withContext(c)
			var herr error
			if rej := m.Serve(c.Response(), c.Request(), chain(c, next, onRequest, &herr)); rej != nil {
				return reject(c, m, rej)
			}
			return herr
		}
	}
}

// setPattern records the matched route in Request.Pattern, in net/http's
// syntax, where core.Route reads it: "" when no route matched (Echo then
// runs its not-found or method-not-allowed handler, and c.Path() names no
// route of the request's).
func setPattern(c echo.Context) {
	r := c.Request()
	r.Pattern = ""
	if h := c.Handler(); h != nil && !isFallback(h) {
		r.Pattern = route.FromColon(c.Path())
	}
}

var (
	notFoundPtr         = reflect.ValueOf(echo.NotFoundHandler).Pointer()
	methodNotAllowedPtr = reflect.ValueOf(echo.MethodNotAllowedHandler).Pointer()
)

// isFallback reports whether h is Echo's own 404 or 405 handler.
func isFallback(h echo.HandlerFunc) bool {
	p := reflect.ValueOf(h).Pointer()
	return p == notFoundPtr || p == methodNotAllowedPtr
}

// rejected carries a rejection up Echo's chain with the core that made it,
// so ErrorHandler can write it as that core would.
type rejected struct {
	rej *core.Rejection
	m   core.Middleware
}

func (e *rejected) Error() string { return e.rej.Error() }
func (e *rejected) Unwrap() error { return e.rej }

func reject(c echo.Context, m core.Middleware, rej *core.Rejection) error {
	rej.SetHeader(c.Response().Header())
	return &echo.HTTPError{Code: rej.Status, Message: rej.TitleOrStatusText(), Internal: &rejected{rej: rej, m: m}}
}

// ErrorHandler returns an echo.HTTPErrorHandler that writes the rejections
// of redisware's middleware as their core would (Settings.OnReject, by
// default an RFC 9457 application/problem+json body) and hands every other
// error to next (nil means the Echo instance's DefaultHTTPErrorHandler):
//
//	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
func ErrorHandler(next echo.HTTPErrorHandler) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		var rj *rejected
		if errors.As(err, &rj) && !c.Response().Committed {
			rj.m.Reject(c.Response(), c.Request(), rj.rej)
			return
		}
		if next != nil {
			next(err, c)
			return
		}
		c.Echo().DefaultHTTPErrorHandler(err, c)
	}
}

// chain returns the http.Handler a core calls as next: it runs next on the
// request and writer the core passes, after onRequest, if set, has seen the
// request, and keeps next's error in *herr for the middleware to return up
// the chain, as Echo expects, so outer middleware (loggers, reporters,
// otelecho) see it. When the core wrapped the writer (to store the
// response, or to save a session with it), the error is also handed to the
// app's HTTPErrorHandler right there, inside an echo.Response over the
// core's writer, so the error response is what the core sees; the
// response is then committed, and an error handler that checks
// c.Response().Committed, as Echo's own does, does not write it twice.
func chain(c echo.Context, next echo.HandlerFunc, onRequest func(c echo.Context, r *http.Request), herr *error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig := c.Response()
		c.SetRequest(r)
		if onRequest != nil {
			onRequest(c, r)
		}
		if w == http.ResponseWriter(orig) {
			*herr = next(c)
			return
		}
		c.SetResponse(echo.NewResponse(w, c.Echo()))
		defer c.SetResponse(orig)
		if err := next(c); err != nil {
			*herr = err
			c.Error(err)
		}
	})
}
