// Package ratelimit limits request rates with state in Redis, shared by any
// number of application servers, on one Redis or a Redis Cluster.
//
// A Limiter holds one policy: one or more Limits (say 10 per second and
// 1000 per hour) counted by one Algorithm. Every decision is a single Lua
// script call, one round trip, atomic across all limits of the policy: a
// request passes only if every limit admits it, and a denied request
// consumes nothing. Under load the calls of concurrent decisions share
// round trips: while two of a Limiter's calls are out, the next ones wait
// for one to come back and go out together in pipelines of up to 64 (one
// per node on a Cluster), each with its own deadline kept and never
// re-sent, so the app and Redis spend much less per decision; a lone
// request never waits. Four algorithms are offered: GCRA (the default, a
// token bucket in one number), an exact sliding window log, an
// approximate sliding window counter and a fixed window.
//
// New is the only constructor, and one call builds what a route mounts:
//
//	limiter, err := ratelimit.New(rdb, ratelimit.Options{
//		Settings: shared, // the deployment's core.Settings: prefix, timeout, logger, trusted proxies, ...
//		Name:     "search",
//		Limits:   []ratelimit.Limit{ratelimit.PerSecond(10), ratelimit.PerHour(1000)},
//	})
//	mux.Handle("GET /search", nethttp.RateLimit(limiter)(search)) // or ginmw.RateLimit, echomw.RateLimit
//
// New validates every option once, up front: a field that cannot work is
// an error that names it (Options.Limits[1], Options.IPv6Prefix,
// Settings.TrustedProxies) and wraps core.ErrConfig, never a failure at
// request time.
//
// Options.Name is required. The name is part of every key: limiters with
// the same name, algorithm and limits share their counts, on one server or
// many, and limiters with different names never do. So each policy gets a
// name of its own (two routes limited by same-named limiters share one
// budget), and every instance of a policy, on every server, gets the same.
//
// Time is read from the Redis server inside the scripts, so application
// servers with skewed clocks agree; Options.Clock passes the application's
// clock instead, for Redis-compatible servers that refuse TIME in scripts.
//
// Once Redis denies a key for some time, the Limiter answers that key from
// a bounded local deny cache until the time has passed, so a client that
// floods one endpoint costs Redis one call per refill instead of one per
// request. The cache is exact: it never denies a request Redis would admit.
// Reset clears it for the key, and a denial still on its way when Reset
// runs is kept out of it, so after Reset the Limiter asks Redis again; a
// Reset made on another instance is seen here only once the denial this
// instance saw has ended.
//
// Every Redis call has a deadline (Settings.Timeout, 100ms by default).
// When it passes, or Redis fails, the Limiter fails open (the default: the
// request passes) or closed (denied, 503 over HTTP), as configured, and
// reports the error to Settings.OnError and Settings.Logger.
//
// # HTTP
//
// A Limiter is a core.Middleware: Serve decides for a request, and the
// nethttp, ginmw and echomw adapters mount it in each framework. The
// request counts against Options.Key, by default its client address (with
// proxies trusted only as Settings.TrustedProxies lists them, and IPv6
// grouped by /64); a Key that returns ("", nil) falls back to the address,
// so one function limits signed-in users by account and everyone else by
// address. Options.PerRoute keeps a budget per route (core.Route), Cost
// weighs requests, Skip lets some through untouched, and Shadow tries a
// limit without denying.
//
// An allowed request carries the IETF RateLimit and RateLimit-Policy
// headers (draft 10), and its handler reads the decision with
// ResultFromContext. A denied request gets a 429 core.Rejection with the
// same headers and Retry-After, written as an RFC 9457 problem body unless
// Settings.OnReject writes it otherwise.
//
// Keys: every limit of a policy is stored under
// <prefix>rl:<name>:{<escaped client key>}:<algorithm>:<rate>:<period µs>:<burst>,
// with a TTL no longer than the state needs. The hash tag keeps one
// client's keys in one Cluster slot.
package ratelimit
