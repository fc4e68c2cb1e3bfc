// Package nethttp adapts the redisware cores to net/http: each function
// returns a func(http.Handler) http.Handler that works with http.ServeMux,
// chi and any other router built on the standard interfaces.
package nethttp
