// Package echomw adapts the redisware cores to Echo: each function returns
// an echo.MiddlewareFunc. Rejections are returned as *echo.HTTPError, with
// their headers already set, so the application's HTTPErrorHandler has the
// last word on their shape.
package echomw
