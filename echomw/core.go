package echomw

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
)

// httpError sets the problem headers and returns the *echo.HTTPError that
// carries a problem body to Echo's error handler.
func httpError(c echo.Context, status int, body []byte, internal error, setHeaders func()) *echo.HTTPError {
	setHeaders()
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	he := echo.NewHTTPError(status, json.RawMessage(body))
	if internal != nil {
		he.Internal = internal
	}
	return he
}

// chain returns the http.Handler a core calls as next: it runs next on the
// request and writer the core passes, inside an echo.Response of their
// own, after onRequest, if set, has seen the request. An error next returns
// goes to the app's HTTPErrorHandler right there, so the error response is
// what the core sees (and stores, or saves a session with).
func chain(c echo.Context, next echo.HandlerFunc, onRequest func(r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orig := c.Response()
		c.SetRequest(r)
		if onRequest != nil {
			onRequest(r)
		}
		c.SetResponse(echo.NewResponse(w, c.Echo()))
		defer c.SetResponse(orig)
		if err := next(c); err != nil {
			c.Error(err)
		}
	})
}
