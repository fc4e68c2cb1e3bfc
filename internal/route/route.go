// Package route translates the route patterns of Gin and Echo into
// net/http's syntax, which the adapters store in Request.Pattern and
// core.Route reads: one route identity in every framework.
package route

import "strings"

// FromColon returns the net/http form of a Gin or Echo route pattern:
// ":id" becomes "{id}", a trailing "*path" or "*" becomes "{path...}" (or
// "{rest...}"), and a trailing slash, which Gin and Echo match exactly,
// becomes "/{$}". "" (no route matched) stays "".
func FromColon(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") {
		return ""
	}
	if !strings.ContainsAny(p, ":*") && !strings.HasSuffix(p, "/") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		b.WriteByte('/')
		last := i == len(segs)-1
		switch {
		case strings.HasPrefix(seg, ":") && len(seg) > 1:
			b.WriteString("{" + seg[1:] + "}")
		case strings.HasPrefix(seg, "*"):
			name := seg[1:]
			if name == "" {
				name = "rest"
			}
			b.WriteString("{" + name + "...}")
		case seg == "" && last:
			b.WriteString("{$}")
		default:
			b.WriteString(seg)
		}
	}
	return b.String()
}
