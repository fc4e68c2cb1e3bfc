package core

import (
	"net/http"
	"strings"
)

// NoRoute is the route of a request that matched no route pattern (a
// middleware mounted before the router dispatched, or a path no route
// serves). Every such request shares it: the raw URL path never becomes a
// route, or a client could mint a fresh rate-limit budget, and a fresh Redis
// key, per path.
const NoRoute = "(no route)"

// Route returns the identity of the route that serves r, the same in every
// framework: the request's method, a space, and the route pattern in one
// canonical form, or NoRoute when r carries no pattern. Every core that
// keys on the route (the rate limiter's PerRoute, idempotency records)
// uses it, so a fleet that mixes frameworks shares limits and records.
//
// The pattern is r.Pattern: http.ServeMux sets it when it dispatches, and
// the Gin and Echo adapters set it from c.FullPath() and c.Path(). It is
// canonicalised by CanonicalPattern.
func Route(r *http.Request) string {
	p := CanonicalPattern(r.Pattern)
	if p == "" {
		return NoRoute
	}
	return r.Method + " " + p
}

// CanonicalPattern maps a route pattern in net/http's syntax (which the Gin
// and Echo adapters translate theirs to) to one form, with parameter names
// dropped:
//
//	net/http            Gin, Echo                  canonical
//	GET /items/{id}     /items/:id                 /items/{}
//	/files/{path...}    /files/*path, /files/*     /files/{...}
//	/items/             (no equivalent)            /items/{...}
//	/items/{$}          /items/                    /items/
//	/                   /*path, /*                 /{...}
//	/{$}                /                          /
//
// A method in the pattern is dropped (Route adds the request's own); a
// host is kept. "" stays "".
func CanonicalPattern(p string) string {
	if p == "" {
		return ""
	}
	// "[METHOD ][HOST]/[PATH]"
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t")
	}
	slash := strings.IndexByte(p, '/')
	if slash < 0 {
		return p
	}
	host, path := p[:slash], p[slash:]
	if !strings.Contains(path, "{") && !strings.HasSuffix(path, "/") {
		return p // no wildcard: already canonical
	}
	var b strings.Builder
	b.Grow(len(p) + 4)
	b.WriteString(host)
	segs := strings.Split(path[1:], "/")
	for i, seg := range segs {
		b.WriteByte('/')
		last := i == len(segs)-1
		switch {
		case seg == "{$}" && last:
			// an exact match of a trailing slash
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "...}"):
			b.WriteString("{...}")
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			b.WriteString("{}")
		case seg == "" && last:
			// a pattern ending in a slash matches the subtree
			b.WriteString("{...}")
		default:
			b.WriteString(seg)
		}
	}
	return b.String()
}
