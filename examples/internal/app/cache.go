package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/redisware/redisware/core/httpcache"
)

// CachedCacheControl is the Cache-Control of GET /cached: fresh for 30
// seconds in any shared cache.
const CachedCacheControl = "max-age=30"

// CachedTag tags every response of GET /cached; POST
// /cached/invalidate with tag=cached forgets them all. Each response is
// also tagged "q:" followed by its query-escaped q.
const CachedTag = "cached"

// Cached is GET /cached behind a shared cache, and POST
// /cached/invalidate. It counts the executions of GET /cached that really
// ran in this process: an answer from the cache never takes a number.
type Cached struct {
	// Cache is the shared cache: what each framework's adapter mounts on
	// GET /cached, and what POST /cached/invalidate invalidates.
	Cache *httpcache.Cache

	executions atomic.Int64
}

// NewCache returns the cache of GET /cached on b: HTTP semantics alone
// (the handler says max-age=30), no in-process tier, so the reference app
// needs no Close.
func NewCache(b Backend) (*Cached, error) {
	c, err := httpcache.New(b.Client, httpcache.Options{Settings: b.Settings(), Name: "cached"})
	if err != nil {
		return nil, err
	}
	return &Cached{Cache: c}, nil
}

// CachedAnswer is the body of GET /cached.
type CachedAnswer struct {
	Q          string `json:"q"`
	Executions int64  `json:"executions"`
}

// SetCachedHeaders sets the fields of a GET /cached answer for q:
// Cache-Control and the tags (Surrogate-Key, which the cache removes).
func SetCachedHeaders(h http.Header, q string) {
	h.Set("Cache-Control", CachedCacheControl)
	h.Set("Surrogate-Key", CachedTag+" q:"+url.QueryEscape(q))
}

// Lookup runs GET /cached for q, counting one execution, and returns its
// JSON body.
func (c *Cached) Lookup(q string) []byte {
	b, _ := json.Marshal(CachedAnswer{Q: q, Executions: c.executions.Add(1)})
	return b
}

// Executions returns how many times GET /cached really ran.
func (c *Cached) Executions() int64 { return c.executions.Load() }

// Invalidate serves POST /cached/invalidate: the form (query or
// url-encoded body) names tag=... (every response with that tag) or
// url=... (one URL, such as /cached?q=x, on the request's host). It
// returns the status and the JSON body: 200 {"invalidated":N} with the
// number of stored responses forgotten (a URL counts 1, whether or not it
// was stored), 400 {"error":"..."} without either, 502 when Redis failed.
func (c *Cached) Invalidate(r *http.Request) (status int, body string) {
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, `{"error":"unreadable form"}`
	}
	tag, target := r.Form.Get("tag"), r.Form.Get("url")
	var n int
	var err error
	switch {
	case tag != "":
		n, err = c.Cache.InvalidateTags(r.Context(), tag)
	case target != "":
		if !strings.HasPrefix(target, "/") {
			return http.StatusBadRequest, `{"error":"url must be a path, such as /cached?q=x"}`
		}
		n, err = 1, c.Cache.InvalidateURL(r.Context(), "//"+r.Host+target)
	default:
		return http.StatusBadRequest, `{"error":"give tag=... or url=..."}`
	}
	if err != nil {
		return http.StatusBadGateway, `{"error":"the cache could not be invalidated"}`
	}
	b, _ := json.Marshal(map[string]int{"invalidated": n})
	return http.StatusOK, string(b)
}

// GreetingCacheControl is what the GET /greeting handler says, wrongly, as
// real handlers do: its page is built from the session, yet it declares it
// fresh for 30 seconds in any cache. The cache still keeps each user's
// greeting to that user, since the session middleware runs outside it.
const GreetingCacheControl = "max-age=30"

// Greeting is the body of GET /greeting.
type Greeting struct {
	Greeting string `json:"greeting"`
}

// Greet returns the greeting of user ("" for a guest).
func Greet(user string) Greeting {
	if user == "" {
		return Greeting{Greeting: "hello guest"}
	}
	return Greeting{Greeting: "hello " + user}
}
