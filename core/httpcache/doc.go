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
// default (Route.DefaultTTL) to 200, 203, 204, 300, 301 and 308 responses
// that state none (an error such as 404 is fresh only when the handler
// says so). No entry is kept, or fresh, longer than Options.MaxTTL (24
// hours by default), whatever max-age says.
// Never stored: a response with no-store or private, wherever either
// appears as a directive name, however malformed the field ("private;",
// "max-age=60; private"); one to a request with Authorization, unless it
// says public, s-maxage or must-revalidate; one that sets a cookie (unless
// AllowSetCookie, which stores it without its Set-Cookie); Vary: *; 206
// and informational answers; statuses not cacheable by default without
// explicit freshness; a body larger than Options.MaxBodyBytes, which
// streams on to the client and is never fully buffered. A response with
// no-cache is stored only to be revalidated. The fields that middleware
// mounted outside the cache sets count as the handler's, whether set
// before the cache runs or as the response starts: an outer Set-Cookie,
// private or no-store keeps the response out, an outer Vary selects its
// variants.
//
// Requests are honoured: no-cache (forward, then store), no-store
// (forward, store nothing), max-age, max-stale, min-fresh, and
// only-if-cached (a 504 rejection when nothing stored answers, written
// through Settings.OnReject when set, else as an RFC 9457 problem body).
//
// Variants: a response's Vary names the request fields that select it;
// their values are normalised (lines joined, members trimmed) and each
// variant is kept apart, up to Options.MaxVariants per URL. The scheme
// selects too: responses to http and https requests (TLS, or
// X-Forwarded-Proto from one of Settings.TrustedProxies) are kept apart,
// so a cached redirect to https never answers an https request.
//
// # Sessions and cookies
//
// Mount the session middleware (core/session) outside the cache, on the
// whole app, and the cache on the routes, as the README does. A response
// produced under the session middleware is a variant of the session: it
// is served only to requests that carry the same session cookie (the
// session's VaryKey, a hash of the cookie's value), and guests, who carry
// none, share one entry. Other cookies (analytics, preferences) do not
// split the entry. Every such response, stored or served, says Vary:
// Cookie, so caches downstream keep sessions apart too. A response on
// which the session sets a cookie (a login, a new session, a renewed
// cookie) is not stored, nor is one the session middleware replaced with
// its 503. A handler that sets Vary: Cookie itself varies on every
// cookie, as HTTP says.
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
// URI and the Location and Content-Location URIs on the same host, for
// both schemes.
//
// # Engine
//
// The key of a URL is the hash of its method, host, path and canonical
// query, so a client cannot forge it; the hash is the key's Redis Cluster
// hash tag. The canonical query re-encodes each parameter in one spelling
// and sorts them by name, keeping the order of a repeated name (the
// handler's Query().Get reads the first), and keeps verbatim a parameter
// that url.ParseQuery drops (a raw ";", a bad escape): two queries share
// an entry only if url.ParseQuery reads them alike. Options.IgnoreParams
// and KeepParams filter the parameters. One Redis hash per URL holds its
// Vary names and one packed entry per variant (status, fields, body
// deflated above Options.CompressAbove, times, tags). A hit is one round
// trip: a script reads the Vary names and the selected variant together.
// With the in-process tier (Options.LocalBytes) a hit is none. Under load
// the lookups of concurrent requests share round trips: while two are out,
// the next ones go out together in pipelines of up to 64.
//
// Stampedes: concurrent misses for one key run the handler once per
// instance, and once across instances through a fill lock: a key holding
// its owner's token, with Options.FillTimeout as its TTL, deleted by its
// owner (no fencing counter, nothing that outlives it). A miss is two
// round trips to the entry's node with the lock on: the lookup script
// takes the lock when nothing the request could use is stored, and the
// store script releases it (the tag indexes are written in the same
// pipeline; on a Cluster, those in other slots go to their own nodes at
// the same time). The others wait up to Options.WaitTimeout for the stored
// response, polling with the lookup (which takes the lock if the holder
// gave up). A response that may not be stored (private, setting a cookie,
// too large) is never handed to a waiter: each runs the handler itself. A
// miss leaves nothing in Redis but the entry it stores.
//
// Invalidation: by URL (InvalidateURL), by tag (InvalidateTags; tags come
// from the Surrogate-Key and Cache-Tag response fields, from
// Route.Tags, or from Set and GetOrLoad), and by path prefix
// (InvalidatePrefix, a SCAN of every master). Each tag's index is a set
// in the tag's own slot, updated atomically with a TTL no shorter than
// its entries'; invalidation moves the index aside in one step and
// forgets each entry with a script of its own, in the entry's slot, so
// nothing spans slots on a Cluster. Every invalidation is published on a
// channel, and every instance's in-process tier drops what it names; a
// tier whose subscription breaks is dropped whole and unused until the
// subscription is back, and no entry stays in it longer than
// Options.LocalMaxAge.
//
// An invalidation is not undone by a fill that was running the handler
// when it came: every invalidation of a URL (InvalidateURL, an unsafe
// method, InvalidateTags, InvalidatePrefix) gives it a new generation, kept
// in the URL's hash (which the invalidation leaves holding nothing else)
// for at least a minute (twice Options.FillTimeout when that is longer); a
// fill reads the generation with its lookup, and stores only if it is
// unchanged, in the same script. The response reaches
// the client that caused the fill, and is not stored. InvalidateTags and
// InvalidatePrefix reach the URLs they find stored (in the tag's index, by
// SCAN): a fill of a URL that had nothing stored when the invalidation
// came is not stopped by them, only by InvalidateURL and unsafe methods. A
// fill whose lookup found no generation stores only within 30 seconds of
// it (half the generation's life): a handler slower than that is answered
// but not stored.
//
// Application data: Get, Set, Delete and GetOrLoad (cache-aside) on the
// same engine, tags and tiers. A GetOrLoad hit is one command, SET key
// marker NX GET, which answers the value; on a miss it leaves the
// instance's marker in the value's place, with Options.FillTimeout as its
// TTL: that is the lock, one round trip with the lookup. The loaded value
// replaces the marker only if the marker is still there (a script, the
// second round trip): Delete and InvalidateTags remove it and Set
// replaces it, so a load cannot undo them either, and a load that
// outlives FillTimeout is returned but not stored. Other instances that
// find the marker wait up to WaitTimeout for the value. A server that
// refuses writes (out of memory) is read with a plain GET instead; one
// that refuses NX with GET (before Redis 7.0) with a script doing the
// same.
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
// redisware.cache.invalidations by kind, and redisware.redis.duration by
// operation (lookup, store, lock, get, set, invalidate, publish; a miss is
// an ok outcome, not an error).
// Settings.TracerProvider receives a span per request the cache serves
// (made only as a child of the request's span), with its Cache-Status as
// an attribute.
//
// Keys, each with a TTL: <prefix>hc:<name>:{<url hash>}:p:<escaped path>
// for URLs (at most Options.MaxTTL), <prefix>hc:<name>:{<key>}:d for
// values (at most Options.MaxTTL; a load's marker for
// Options.FillTimeout), <prefix>hc:<name>:{<tag>}:t for tag indexes (as
// long as their longest entry; InvalidateTags moves one aside to
// <prefix>hc:<name>:{<tag>}:t:<random hex> while it drains it, and lists
// those not drained yet in <prefix>hc:<name>:{<tag>}:t:p, so that a call
// that failed midway is finished by the next one), and
// <prefix>hc:<name>:{<url hash>}:l:<variant hash> for fill locks
// (Options.FillTimeout). A URL's hash also holds its generation; one that
// was invalidated holds only that, for a minute.
package httpcache
