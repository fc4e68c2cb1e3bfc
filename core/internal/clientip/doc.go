// Package clientip finds the client address of an HTTP request, for use in
// rate-limit keys and idempotency scopes.
//
// The peer (the other end of the TCP connection, req.RemoteAddr) is the only
// address a server can verify. Forwarding headers (X-Forwarded-For,
// X-Real-IP) are believed only when the peer is a configured trusted proxy,
// and X-Forwarded-For is read from the right, so a client cannot choose its
// own key by prepending addresses: the answer is the rightmost address that
// was not added by a trusted proxy.
//
// A Resolver never panics on request input and does a bounded amount of work
// per request; an unparseable forwarding entry stops the walk instead of
// causing an error.
package clientip
