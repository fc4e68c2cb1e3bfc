// Package httpcache is a shared HTTP cache in Redis that follows RFC 9111,
// with stale-while-revalidate and stale-if-error (RFC 5861) and the
// Cache-Status field (RFC 9211), and a cache for application data on the
// same engine.
//
//	cache, err := httpcache.New(rdb, httpcache.Options{Settings: shared})
//	...
//	mux.Handle("GET /products/", nethttp.HTTPCache(cache)(products))
//
// A *Cache is a core.Middleware: New returns the value every adapter
// mounts (nethttp.HTTPCache, ginmw.HTTPCache, echomw.HTTPCache), with
// Options.Route saying how it serves those routes. Build one Cache per
// application, and give a route options of its own with one call,
// WithRoute, which shares the cache's entries, Redis calls, in-process tier
// and stampede protection:
//
//	r.GET("/prices", ginmw.HTTPCache(must(cache.WithRoute(httpcache.Route{DefaultTTL: time.Minute}))), prices)
//
// A route may also get a Cache of its own, in one call:
//
//	mux.Handle("GET /prices", nethttp.HTTPCache(must(httpcache.New(rdb, httpcache.Options{
//		Settings: shared, Route: httpcache.Route{DefaultTTL: time.Minute},
//	})))(prices))
//
// which is cheap without Options.LocalBytes (each Cache with it keeps an
// in-process tier and a subscription of its own); must stands for the
// application's own check of the error. Either way every option is
// checked up front: New and WithRoute fail with an error that names the
// field (Options.MaxBodyBytes, Route.DefaultTTL), and nothing is checked
// at request time.
//
// # What is stored
//
// Responses to GET, which also answer HEAD. A response is fresh for its
// s-maxage, else its max-age, else Expires minus Date; a route may give a
// default (Route.DefaultTTL) to responses that state none.
// Never stored: a response with no-store or private; one to a request
// with Authorization, unless it says public, s-maxage or must-revalidate;
// one that sets a cookie (unless AllowSetCookie, which stores it without
// its Set-Cookie); Vary: *; 206 and informational answers; statuses not
// cacheable by default without explicit freshness; a body larger than
// Options.MaxBodyBytes, which streams on to the client and is never fully
// buffered. A response with no-cache is stored only to be revalidated.
//
// Requests are honoured: no-cache (forward, then store), no-store
// (forward, store nothing), max-age, max-stale, min-fresh, and
// only-if-cached (a 504 rejection when nothing stored answers, written
// through Settings.OnReject when set, else as an RFC 9457 problem body).
//
// Variants: a response's Vary names the request fields that select it;
// their values are normalised (lines joined, members trimmed) and each
// variant is kept apart, up to Options.MaxVariants per URL.
//
// # What a client gets
//
// A hit carries the stored status, every stored field (multi-value fields
// intact), the body, Age, and a Cache-Status member such as
// `redisware; hit; ttl=27`; a miss carries `redisware; fwd=uri-miss;
// fwd-status=200; stored; ttl=30` (fwd is uri-miss, vary-miss, stale,
// request, method or bypass). The cache key is never shown unless
// Options.ShowKey. If-None-Match and If-Modified-Since are answered with
// 304 from the stored ETag and Last-Modified, also on a miss (the handler
// is asked for the whole response, which is stored).
// Route.ETag gives stored responses without an ETag a strong
// one, the hash of their body.
//
// A stale response within its stale-while-revalidate window is served at
// once and refreshed once, in the background, across instances. Within
// stale-if-error, a 5xx or a panic from the handler is answered with the
// stale response. With Options.KeepStale, a stale response with a
// validator is revalidated with a conditional request; a 304 renews it.
//
// Unsafe methods pass through; a non-error answer invalidates the target
// URI and the Location and Content-Location URIs on the same host.
//
// # Engine
//
// The key of a URL is the hash of its method, host, path and canonical
// query (parameters re-encoded and sorted; Options.IgnoreParams and
// KeepParams filter them), so a client cannot forge it; the hash is the
// key's Redis Cluster hash tag. One Redis hash per URL holds its Vary
// names and one packed entry per variant (status, fields, body deflated
// above Options.CompressAbove, times, tags). A hit is one round trip: a
// script reads the Vary names and the selected variant together. With the
// in-process tier (Options.LocalBytes) a hit is none.
//
// Stampedes: concurrent misses for one key run the handler once per
// instance, and once across instances through a lock (core/lock); the
// others wait up to Options.WaitTimeout for the stored response. A
// response that may not be stored (private, setting a cookie, too large)
// is never handed to a waiter: each runs the handler itself.
//
// Invalidation: by URL (InvalidateURL), by tag (InvalidateTags; tags come
// from the Surrogate-Key and Cache-Tag response fields, from
// Route.Tags, or from Set and GetOrLoad), and by path prefix
// (InvalidatePrefix, a SCAN of every master). Each tag's index is a set
// in the tag's own slot, updated atomically with a TTL no shorter than
// its entries'; invalidation moves the index aside in one step and deletes
// each entry with a command of its own, so nothing spans slots on a
// Cluster. Every invalidation is published on a channel, and every
// instance's in-process tier drops what it names; a tier whose
// subscription breaks is dropped whole and unused until the subscription
// is back, and no entry stays in it longer than Options.LocalMaxAge.
//
// Application data: Get, Set, Delete and GetOrLoad (cache-aside, with the
// same stampede protection) on the same engine, tags and tiers.
//
// # When Redis fails
//
// Every Redis call made for a request has a deadline (Settings.Timeout,
// 100ms by default). If a lookup fails the request goes to the handler,
// marked `fwd=bypass`; if storing fails the response has been sent
// anyway. No cache failure reaches the client; each is logged
// (Settings.Logger) and reported to Settings.OnError.
//
// # Telemetry
//
// Settings.MeterProvider receives the cache's metrics:
// redisware.cache.requests by cache and outcome (hit, local_hit, stale,
// miss; bypass with redisware.reason method, skip, request or
// redis_unavailable), redisware.cache.stores, redisware.cache.stored_bytes,
// redisware.cache.invalidations by kind, and redisware.redis.duration.
// Settings.TracerProvider receives a span per request the cache serves
// (made only as a child of the request's span), with its Cache-Status as
// an attribute.
//
// Keys: <prefix>hc:<name>:{<url hash>}:p:<escaped path> for URLs,
// <prefix>hc:<name>:{<key>}:d for values, <prefix>hc:<name>:{<tag>}:t for
// tag indexes, each with a TTL; fill locks under <prefix>lock:.
package httpcache
