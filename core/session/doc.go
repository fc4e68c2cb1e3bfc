// Package session keeps server-side sessions in Redis behind a cookie, as
// OWASP's Session Management guidance asks, at one round trip per request.
//
//	sessions, err := session.New(rdb, session.Options{Settings: shared})
//	// handle err: it names the option that cannot work
//	mux.Handle("/", nethttp.Session(sessions)(app))
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s := session.FromContext(r.Context())
//		s.Put("theme", "dark")
//		n, _ := s.Incr(r.Context(), "visits", 1)
//		...
//	}
//
// IDs are 256 bits from crypto/rand, base64url. Redis holds the SHA-256 of
// an ID, never the ID, so a dump of Redis yields no usable cookie. Strict
// mode always: an ID the server does not know is never adopted; the client
// is told to drop it and gets a fresh one when something is stored.
//
// Each session is a Redis hash, one field per value plus metadata
// (created, last seen, absolute deadline, user, user agent, address).
// Loading a session and sliding its idle expiry is one round trip; a
// request that changes nothing writes nothing more; a request that changes
// values writes only those (and its deletions) in one round trip, just
// before its response starts, so two concurrent requests that change
// different values both keep their change, and Incr counts exactly. The
// write only happens while the session exists: a request still in flight
// cannot bring back a session destroyed meanwhile. The Redis TTL is the
// earlier of the idle and the absolute expiry, and both are also checked
// on every load.
//
// Login(user) renews the ID (the old ID is read and deleted in one step,
// so it is dead before the new one exists) and binds the session to user;
// call Renew on any other privilege change, Destroy on logout. All of a
// user's sessions share the user's hash tag in Redis, so ListSessions,
// Revoke and RevokeAll ("log out everywhere") are single atomic scripts,
// on a Redis Cluster too, and MaxSessionsPerUser evicts the oldest.
//
// Cookies are HttpOnly, Secure and SameSite=Lax with Path=/ by default,
// and their Max-Age follows the server-side expiry. Browsers accept Secure
// cookies on http://localhost (and 127.0.0.1), which they treat as secure
// origins, so development needs no exception; CookieOptions.Insecure exists
// for other plain-HTTP hosts. CookieOptions also offers the "__Host-"
// prefix, Partitioned, Domain and browser-session cookies.
//
// Every option has a default (Lifetime 24 hours, IdleTimeout 30 minutes,
// the cookie above), and New checks them all up front: a setting that
// cannot work, such as a "__Host-" cookie with a Domain, is an error of New
// that names the field, never a failure at request time. IdleTimeout zero
// means its default; a negative IdleTimeout disables idle expiry.
//
// If Redis cannot answer, the request gets a 503 (Serve returns a
// *core.Rejection whose Err wraps ErrUnavailable; Reject writes it through
// Settings.OnReject, by default as an RFC 9457 problem body) and the
// handler does not run: a user is never silently logged out, nor handed an
// empty session that would then overwrite the real one. The same 503
// replaces the handler's response when saving fails just before it
// starts. Every Redis failure is logged and passed to Settings.OnError.
//
// DenyList and TokenGuard revoke stateless tokens (a JWT's jti) until
// their own expiry, checked in one round trip; parsing and verifying the
// token is left to TokenGuardOptions.Parse. The guard answers 401 with
// WWW-Authenticate: Bearer error="invalid_token" to a missing, invalid or
// revoked token, and 503 while the list cannot be read.
//
// Keys: <prefix>sess:{<id hash>} for a session bound to nobody,
// <prefix>sess:{u.<user hash>}:s:<id hash> and the user's index
// <prefix>sess:{u.<user hash>}:idx, <prefix>deny:{<token hash>}; all with
// TTLs.
package session
