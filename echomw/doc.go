// Package echomw adapts the redisware cores to Echo: each function returns
// an echo.MiddlewareFunc. Errors returned by handlers travel back up the
// chain through every redisware middleware. Rejections are returned as
// *echo.HTTPError values with a plain-string Message, so the application's
// HTTPErrorHandler has the last word on their shape; install ErrorHandler
// for RFC 9457 problem bodies:
//
//	e.HTTPErrorHandler = echomw.ErrorHandler(nil)
package echomw
