package nethttp

import (
	"net/http"

	"github.com/redisware/redisware/core/httpcache"
)

// HTTPCache returns middleware that answers requests from c's shared cache
// and stores next's responses as HTTP allows (RFC 9111). A request with
// Cache-Control: only-if-cached that nothing stored answers gets 504 with
// an application/problem+json body. A stale-while-revalidate refresh runs
// next in a goroutine of its own, with a copy of the request whose context
// outlives it. For a route with options of its own, mount
// c.WithRoute(...).
func HTTPCache(c *httpcache.Cache, opts ...Option) func(http.Handler) http.Handler {
	return Mount(c, opts...)
}
