// Package ratelimit limits request rates with state in Redis, shared by any
// number of application servers, on one Redis or a Redis Cluster.
//
// A Limiter holds one policy: one or more Limits (say 10 per second and
// 1000 per hour) counted by one Algorithm. Every decision is a single Lua
// script call, one round trip, atomic across all limits of the policy: a
// request passes only if every limit admits it, and a denied request
// consumes nothing. Four algorithms are offered: GCRA (the default, a token
// bucket in one number), an exact sliding window log, an approximate
// sliding window counter and a fixed window.
//
// Time is read from the Redis server inside the scripts, so application
// servers with skewed clocks agree; Options.Clock passes the application's
// clock instead, for Redis-compatible servers that refuse TIME in scripts.
//
// Once Redis denies a key for some time, the Limiter answers that key from
// a bounded local deny cache until the time has passed, so a client that
// floods one endpoint costs Redis one call per refill instead of one per
// request. The cache is exact: it never denies a request Redis would admit.
//
// Every Redis call has a deadline (100ms by default). When it passes, or
// Redis fails, the Limiter fails open (the default: the request passes) or
// closed (denied), as configured, and reports the error to Options.OnError
// and Options.Logger.
//
// Middleware carries the HTTP side that every framework shares: key
// functions (client address with safe proxy handling, a header, any
// function), skip and shadow modes, the IETF RateLimit and RateLimit-Policy
// headers (draft 10), Retry-After, and an RFC 9457 problem body on 429. The
// nethttp, ginmw and echomw packages mount it in each framework.
//
// Keys: every limit of a policy is stored under
// <prefix>rl:<name>:{<escaped client key>}:<algorithm>:<rate>:<period µs>:<burst>,
// with a TTL no longer than the state needs. The hash tag keeps one
// client's keys in one Cluster slot.
package ratelimit
