// Package session keeps server-side sessions in Redis behind a cookie, as
// OWASP's Session Management guidance asks, at one round trip per request
// that uses its session, and none for a request that does not.
//
//	sessions, err := session.New(rdb, session.Options{Settings: shared})
//	// handle err: it names the option that cannot work
//	mux.Handle("/", nethttp.Session(sessions)(app))
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s := session.FromContext(r.Context())
//		if err := s.Load(r.Context()); err != nil {
//			return // the middleware answers 503
//		}
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
// # Lazy loading, and Redis outages
//
// The middleware reads the cookie and nothing else: the session is loaded
// by the first method that needs its data (Load, User, the getters, Incr;
// see Session for the list), once per request, and its idle expiry slid in
// the same round trip. Put, Remove, Renew, Login, RememberMe, SetDeadline
// and Destroy only record what to do; it is written just before the
// response starts. So a request whose handler never touches its session
// costs no Redis call and gets no Set-Cookie; one that reads it costs one
// round trip, and one more if it also changed something. One whose first
// use of its session is a change (Put, Remove, RememberMe, SetDeadline)
// costs one round trip too: the change is written without a load, by a
// script that makes the load's checks itself (the deadline, the idle
// timeout, a renewal, the secret the session was bound under) and slides
// the idle expiry. Incr on a session not loaded yet loads it and adds in
// one script; Destroy and Login need no load. Under load the script calls
// of concurrent requests share round trips, as the rate limiter's do:
// while two of a Manager's calls are out, the next ones go out together in
// pipelines of up to 64 (never re-sent, each keeping its deadline); a lone
// request never waits.
//
// When Redis fails or does not answer in time (Settings.Timeout), only the
// requests that use their session notice: the session is marked failed,
// reads return zero values, nothing is written, and when the response
// starts the middleware replaces it with a 503 (a *core.Rejection whose Err
// wraps ErrUnavailable, written by Manager.Reject through
// Settings.OnReject, by default an RFC 9457 problem body). A user is never
// silently logged out, nor handed a response built on an empty session,
// and no change overwrites the real one. Routes that never use the session
// answer as usual during the outage, so mounting the middleware on the
// whole app costs nothing there. A handler with side effects calls Load
// first and stops on its error. Every Redis failure is logged and passed
// to Settings.OnError.
//
// # Storage and writes
//
// Each session is a Redis hash, one field per value plus metadata
// (created, last seen, absolute deadline, the RememberMe choice; for a
// session bound to a user, the user, the user agent and address of its
// login, and a fingerprint of the secret it was bound under). A request
// that changes values writes only those (and its deletions) in one round
// trip, just before its response starts, so two concurrent requests that
// change different values both keep their change, and Incr counts
// exactly. The write only happens while the session lives, by the same
// checks as a load: a request still in flight cannot bring back a session
// destroyed, revoked, renewed or expired meanwhile. The
// Redis TTL is the earlier of the idle and the absolute expiry (the end of
// Lifetime, or an earlier SetDeadline), and both are also checked on every
// load. A request that only reads (or Incrs) slides the idle expiry at most
// once a second (once per hundredth of an IdleTimeout shorter than 100 s),
// and whenever the cookie's Max-Age is renewed: a session read in a burst
// is written once, not on every request. The idle expiry counts from that
// slide, so a session can end up to a second before IdleTimeout has passed
// since its last request, never after; its LastSeen is as precise.
//
// # Renewal and revocation
//
// Login(user) renews the ID and binds the session to user; call Renew on
// any other privilege change, Destroy on logout. A renewal reads and
// deletes the old session in one script, and only if it is still alive:
// the old ID is dead before the new one exists, and a session that was
// ended while a request ran (Destroy, Revoke, RevokeAll, the per-user cap,
// expiry) stays ended. Renew then leaves the request without a session and
// clears its cookie; only Login creates a session then, for the user given
// to it, holding only that request's changes, never the dead session's
// user or values. All of a user's sessions share the user's hash tag in
// Redis, so ListSessions, Revoke and RevokeAll ("log out everywhere") are
// single atomic scripts, on a Redis Cluster too, and MaxSessionsPerUser
// evicts the oldest.
//
// A renewed ID is marked as such for a minute. A request that still
// carries it (a browser sent it before it received the new cookie) gets an
// empty session that is never stored, and its response sets no cookie, so
// it cannot replace the new cookie in the browser; there is no grace
// session, which would reopen session fixation. An ID that was revoked,
// destroyed or never known is cleared (Max-Age=0) by any request that uses
// its session.
//
// # Cookies
//
// Cookies are HttpOnly, Secure and SameSite=Lax with Path=/ by default.
// Set-Cookie is sent only when it changes something: a new session (its
// first stored value, Login, Renew), a session ended (Destroy, a deadline
// passed, or a used cookie that names no live session), a change of kind
// (RememberMe) or of deadline (SetDeadline), and when a request moves the
// session's sliding idle expiry into a new tenth of IdleTimeout, so the
// cookie's Max-Age keeps up within IdleTimeout/10 (never for a
// browser-session cookie, which has no Max-Age, nor without idle expiry,
// where the cookie set at creation stays true). A response that uses the
// session says Vary: Cookie. Browsers accept Secure cookies on
// http://localhost (and 127.0.0.1), which they treat as secure origins, so
// development needs no exception; CookieOptions.Insecure exists for other
// plain-HTTP hosts. CookieOptions also offers the
// "__Host-" prefix, Partitioned, Domain and browser-session cookies.
//
// # Remember me, and a deadline per session
//
// A persistent cookie carries Max-Age, the time left before the session's
// server-side expiry, and survives the browser's restart; a browser-session
// cookie carries neither Max-Age nor Expires, and the browser forgets it
// when it closes. Session.RememberMe chooses, per session, usually with
// Login from a login form's "remember me" box:
//
//	s.Login(user)
//	s.RememberMe(r.PostFormValue("remember") == "on")
//
// The choice is stored in the session, so every later cookie of it keeps
// it, across Renew and Login (until a request chooses again); a session
// whose app never chooses follows CookieOptions.SessionOnly, by default
// persistent. The choice decides only what the browser keeps: the server
// ends a session after IdleTimeout and Lifetime either way.
//
// Session.SetDeadline(t) ends one session at t at the latest, however
// active: "admin sessions last 15 minutes", "until the end of the working
// day". It only brings the end closer (a t past the end of the Lifetime,
// or past an earlier deadline, changes nothing), is written with the
// session's other changes in the same round trip, and moves the Redis TTL
// and the cookie's Max-Age; Deadline and ListSessions report it, and every
// load enforces it. Renew keeps it; Login starts a new Lifetime. A t that
// has passed ends the session when the response starts and clears its
// cookie, as Destroy does.
//
// Session.VaryKey names the cookie a request carried, without Redis, for a
// cache that keys the variants of responses made under the middleware.
//
// # The secret
//
// The cookie of a session bound to a user starts with a user tag,
// HMAC-SHA256 of the user name under a secret, truncated to 96 bits: a
// cookie seen in a log cannot be matched to a user by guessing names. The
// secret must be the same on every instance, or ListSessions, Revoke,
// RevokeAll and MaxSessionsPerUser would miss the sessions made elsewhere.
// It is Settings.Secret when set; otherwise a random 32-byte secret is
// created once in Redis, under <prefix>sess:{secret} with SET NX, and read
// by every instance, so a bare machine and a fleet both work without
// configuration. A session bound to a user also keeps a fingerprint of
// the secret (HMAC-SHA256 of a constant under it, truncated; the secret
// cannot be recovered from it), which the scripts that write to a session
// not loaded check as a load checks the tag: a session bound under another
// secret is never written. New does not fetch the secret: the first
// request that needs it (a Login, the first use of a bound session,
// ListSessions, Revoke, RevokeAll) does, once per instance, with
// concurrent callers sharing that one fetch; if Redis cannot answer, that
// request gets the usual 503 and the next one tries again. It is the one key redisware keeps without a
// TTL, so a volatile-* eviction policy never evicts it. If it is lost all
// the same (FLUSHALL, an allkeys-* policy), the running instances put
// their copy back when they next check it (in the background, at most
// every five minutes, when a request needs the secret); an instance that
// starts before then creates a new one, the others adopt it, and the
// sessions bound under the old one end. Set Settings.Secret where that
// matters.
//
// Rotation: changing the secret (changing Settings.Secret; without it,
// deleting the key and restarting every instance) changes every user's
// tag, and a session bound under the old tag is dead from then on: its
// user is logged out and logs in again. Sessions bound to nobody carry no
// tag and are unaffected. There is no overlap period; rotate when logging
// everyone out is acceptable.
//
// # Options
//
// Every option has a default (Lifetime 24 hours, IdleTimeout 30 minutes,
// the cookie above), and New checks them all up front: a setting that
// cannot work, such as a "__Host-" cookie with a Domain, is an error of New
// that names the field, never a failure at request time. IdleTimeout zero
// means its default; a negative IdleTimeout disables idle expiry.
//
// # Stateless tokens
//
// DenyList and TokenGuard revoke stateless tokens (a JWT's jti) until
// their own expiry, checked in one round trip; parsing and verifying the
// token is left to TokenGuardOptions.Parse. The guard answers 401 with
// WWW-Authenticate: Bearer error="invalid_token" to a missing, invalid or
// revoked token, and 503 while the list cannot be read. Revoked reads the
// master, through a script, even when the client reads from replicas.
//
// # Keys
//
// <prefix>sess:{<id hash>} for a session bound to nobody and
// <prefix>sess:{<id hash>}:r for its renewal marker;
// <prefix>sess:{u.<user tag>}:s:<id hash> for a session bound to a user,
// <prefix>sess:{u.<user tag>}:r:<id hash> for its renewal marker and
// <prefix>sess:{u.<user tag>}:idx for the user's index;
// <prefix>deny:{<token hash>}. All have TTLs (a marker lives one minute),
// except <prefix>sess:{secret}, the secret, when Settings.Secret is empty.
//
// New logs one warning at start-up when the server's maxmemory-policy may
// evict its keys (allkeys-* or volatile-*: every redisware key has a TTL);
// keep sessions on a Redis with noeviction (README, Running Redis in
// production).
package session
