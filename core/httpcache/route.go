package httpcache

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redisware/redisware/core"
)

// DefaultTagHeaders are the response header fields read for tags unless
// Route.TagHeaders says otherwise.
var DefaultTagHeaders = []string{"Surrogate-Key", "Cache-Tag"}

// Route says how the routes a Cache is mounted on are served: Options.Route
// for the Cache New returns, or the argument of WithRoute. Every field is
// optional.
type Route struct {
	// DefaultTTL is the freshness lifetime of a response that states none
	// (no s-maxage, max-age or Expires), for the successful and
	// redirecting statuses cacheable by default: 200, 203, 204, 300, 301
	// and 308. An error (404, 405, 410, 414, 501) is fresh only when the
	// handler's own fields say so. no-store, private and no-cache from the
	// handler always win, and Options.MaxTTL caps it. Zero means none:
	// such responses follow HTTP alone (stored only to be revalidated,
	// with Options.KeepStale). Negative is an error.
	DefaultTTL time.Duration
	// Tags returns tags for the response to a request, in addition to
	// those the response's tag header fields carry; InvalidateTags
	// forgets every response with a tag. Zero adds none.
	Tags func(r *http.Request) []string
	// TagHeaders are the response header fields whose values are tags,
	// separated by commas or spaces. They are removed from the response
	// (as CDNs do). Zero means Surrogate-Key and Cache-Tag
	// (DefaultTagHeaders); an empty non-nil slice reads none. An entry
	// that is not a valid field name is an error.
	TagHeaders []string
	// ETag gives a stored 200 response without an ETag a strong one, the
	// hash of its body, so clients can revalidate it with If-None-Match.
	// The response that fills the cache goes out without it; every hit
	// carries it. Off by default.
	ETag bool
	// AllowSetCookie stores responses that set cookies, without their
	// Set-Cookie fields (the client that caused the miss still gets its
	// cookies). By default such responses are not stored, and never
	// handed to another request.
	AllowSetCookie bool
	// Skip, when it returns true, lets a request through untouched: no
	// lookup, no storing, no Cache-Status. Zero skips nothing.
	Skip func(r *http.Request) bool
	// StaleIfError is the stale-if-error window of responses that state
	// none and do not forbid serving stale (must-revalidate,
	// proxy-revalidate, s-maxage, no-cache, which also void a window the
	// response states itself): within it a stale response
	// answers in place of a 5xx or a panic, as RFC 9111 section 4.2.4
	// allows a cache cut off from its origin. It also keeps such responses
	// that long. Zero means none; negative is an error.
	StaleIfError time.Duration
	// SurrogateControl honours the Surrogate-Control response field (Edge
	// Architecture 1.0) as a CDN does: its max-age and no-store, without a
	// target or targeted at Options.StatusName, win over Cache-Control for
	// this cache, and forwarded requests announce the cache with
	// Surrogate-Capability. The field is removed from responses. Off by
	// default.
	SurrogateControl bool
}

// WithRoute returns a Cache that serves the routes it is mounted on with
// rt, in place of Options.Route, and shares everything else with c: its
// entries, Redis calls, in-process tier and subscription, and stampede
// protection (Close on the value New returned closes it for all). It is
// how one cache per application serves routes with options of their own:
//
//	products, err := cache.WithRoute(httpcache.Route{DefaultTTL: time.Minute})
//
// rt is checked here; a field that cannot work is an error that names it
// ("Route.DefaultTTL") and wraps core.ErrConfig.
func (c *Cache) WithRoute(rt Route) (*Cache, error) {
	if c == nil || c.engine == nil {
		return nil, errors.New("httpcache: WithRoute on a nil Cache")
	}
	route, field, why := checkRoute(rt)
	if field != "" {
		return nil, fmt.Errorf("httpcache: %w: Route.%s %s", core.ErrConfig, field, why)
	}
	return &Cache{engine: c.engine, route: route}, nil
}

// checkRoute returns rt with its defaults filled in, or the field of rt
// that cannot work and why.
func checkRoute(rt Route) (_ Route, field, why string) {
	switch {
	case rt.DefaultTTL < 0:
		return rt, "DefaultTTL", fmt.Sprintf("is negative (%v)", rt.DefaultTTL)
	case rt.StaleIfError < 0:
		return rt, "StaleIfError", fmt.Sprintf("is negative (%v)", rt.StaleIfError)
	}
	for i, name := range rt.TagHeaders {
		if !validFieldName(name) {
			return rt, fmt.Sprintf("TagHeaders[%d]", i), fmt.Sprintf("%q is not a header field name", name)
		}
	}
	if rt.TagHeaders == nil {
		rt.TagHeaders = DefaultTagHeaders
	}
	return rt, "", ""
}

// validFieldName reports whether s is an HTTP field name (an RFC 9110
// token).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar(s[i]) {
			return false
		}
	}
	return true
}
