// Package idempotency makes retried requests safe, following the IETF
// Idempotency-Key draft and Stripe's documented behaviour: a payment API
// retried by a flaky network charges once, across any number of servers.
//
// Build a Guard with New, from the deployment's shared core.Settings and
// the guard's own fields; New validates every option once, up front, and
// names the field that cannot work:
//
//	guard, err := idempotency.New(rdb, idempotency.Options{Settings: shared, Name: "orders", Required: true})
//	mux.Handle("POST /orders", nethttp.Idempotency(guard)(orders))
//
// A Guard is a core.Middleware: nethttp, ginmw and echomw mount the very
// value New returned.
//
// A Guard reads the Idempotency-Key header of POST and PATCH requests (a
// structured-field string or a bare token, 1 to 255 characters of
// letters, digits and -_.:~+/=). The first request with a key claims a
// record in Redis in one round trip and runs the handler, while the claim
// is refreshed so a slow handler cannot lose it; the handler reads the
// claimed key with KeyFromContext (to pass it on to a payment provider as
// that provider's own idempotency key, for instance). Its response (status,
// every header but Set-Cookie, body) is stored only if the request still
// owns the claim, and kept for 24 hours. A retry gets that response byte
// for byte, with Idempotent-Replayed: true, in one round trip and without
// running the handler.
//
// Cookies the handler sets reach the first client only: Set-Cookie fields
// are left out of the record, so a replay never hands a session or a CSRF
// token minted for one request to whoever retries it. Options.StoreSetCookie
// keeps them, for apps whose guarded cookies are safe to send again.
//
// What a client gets:
//
//   - a retry after completion: the stored response;
//   - a duplicate while the first is in flight: 409 with Retry-After
//     (or, with WaitInFlight, the response once it is ready; if the first
//     claim is released meanwhile, one waiting duplicate runs the handler
//     and the others replay its response);
//   - the same key with a different method-path-body fingerprint: 422;
//   - a missing key where Required, or a malformed one: 400;
//   - a body over MaxBodyBytes: 413 (the handler sees the body unchanged
//     otherwise);
//   - Redis unreachable, or the request's session unavailable: 503, and
//     the handler never runs without a claim.
//
// Rejections are *core.Rejection values (Retry-After, when there is one,
// in their Header), written as RFC 9457 application/problem+json bodies
// unless Settings.OnReject says otherwise. If the handler panics, the
// claim is released (the client may retry) and the panic goes on. 5xx
// responses are stored and replayed like any other unless ReleaseOn5xx is
// set.
//
// Scope: a record is identified by a hash of (scope, method, route, key),
// so one client never receives a response stored for another, even with
// the same key. The route is core.Route: the route pattern the request
// matched, in the same canonical form in every framework, or core.NoRoute
// (never the raw path) for a guard mounted before routing. The scope
// follows the user, not the network address; by default it is the first
// of (see Guard.DefaultScope):
//
//   - the user Options.Principal returns;
//   - the user of the request's session, bound with session.Session.Login,
//     when the session middleware is mounted outside the guard (it is
//     loaded here if the app has not loaded it yet);
//   - a hash of the Authorization header;
//   - a guest's stored session (a hash of its ID);
//   - the client address, read through Settings.TrustedProxies: a last
//     resort, shared by every client behind one NAT or proxy.
//
// Principal and the session's user are one kind of scope, a user name, so
// a user's retry matches whether it comes with an API token or a cookie.
// The raw Cookie header is never a scope. If the session cannot be loaded
// (its Redis is down), the guard refuses the request with 503, and the
// handler never runs, rather than fall back to the address. Set
// Options.Scope for anything else, such as a tenant ID.
//
// Limits worth knowing: if Redis fails after the handler ran, the response
// cannot be stored, and a retry after the claim expires (ClaimTTL) runs
// the handler again; the failure is logged and reported to
// Settings.OnError. A response larger than MaxStoredBytes is delivered but
// not kept, and its retries get 409, never a second execution. Headers set
// before the guard ran (by outer middleware) are not stored; they are set
// afresh on replay.
//
// Keys: <prefix>idem:<name>:{<hash>}, one hash per record, with a TTL
// (the claim TTL while in flight, the retention once done).
//
// New logs one warning at start-up when the server's maxmemory-policy may
// evict its keys (allkeys-* or volatile-*: every redisware key has a TTL);
// keep idempotency records on a Redis with noeviction (README, Running Redis in
// production).
package idempotency
