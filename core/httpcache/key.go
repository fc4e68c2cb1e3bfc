package httpcache

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/session"
)

// maxVisiblePath is the most bytes of escaped path a key shows after its
// hash tag, so that prefix invalidation can match keys with SCAN.
const maxVisiblePath = 96

// target is the stored URL a request maps to.
type target struct {
	// url is host + path + "?" + canonical query (no "?" when empty).
	url string
	// path is the request's escaped path.
	path string
	// key is the Redis key of the URL's hash: the variants, the Vary
	// header names and the URL.
	key string
	// head is what the keys of the URL (its hash, its fill locks) start
	// with: the prefix and the hash tag, so they share a slot.
	head string
	// tag is the hash tag of the URL's keys (the hash, unescaped).
	tag string
}

// paramFilter drops query parameters from the cache key.
type paramFilter struct {
	ignore []string // exact names, or prefixes ending in "*"
	keep   []string // when set, only these names count
}

func matchParam(list []string, name string) bool {
	for _, p := range list {
		if strings.HasSuffix(p, "*") {
			if strings.HasPrefix(name, p[:len(p)-1]) {
				return true
			}
		} else if p == name {
			return true
		}
	}
	return false
}

// canonicalQuery returns raw with its parameters re-encoded in one
// spelling, filtered, and sorted by name, so ?b=2&a=1 and ?a=1&b=2 share an
// entry. Two queries share a canonical form only when url.ParseQuery reads
// them alike: parameters of one name keep their order (Query().Get reads
// the first), and a parameter that url.ParseQuery drops (one holding a raw
// ";", or an invalid escape) is kept verbatim, a spelling no re-encoded
// parameter has, so ?a=1;b=2 never shares the entry of ?a=1%3Bb%3D2.
func (f paramFilter) canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type param struct{ name, enc string }
	var ps []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, value, hasValue := strings.Cut(part, "=")
		dn, err1 := url.QueryUnescape(name)
		dv, err2 := url.QueryUnescape(value)
		enc := part
		if err1 == nil && err2 == nil && !strings.Contains(part, ";") {
			enc = url.QueryEscape(dn)
			if hasValue {
				enc += "=" + url.QueryEscape(dv)
			}
		} else {
			dn = name // dropped by url.ParseQuery: kept as sent
		}
		if len(f.keep) > 0 && !matchParam(f.keep, dn) || matchParam(f.ignore, dn) {
			continue
		}
		ps = append(ps, param{dn, enc})
	}
	slices.SortStableFunc(ps, func(a, b param) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.enc)
	}
	return b.String()
}

// requestHost returns the lower-cased host a request names.
func requestHost(r *http.Request) string {
	h := r.Host
	if h == "" && r.URL != nil {
		h = r.URL.Host
	}
	return strings.ToLower(h)
}

// targetOf returns the stored URL of host, escaped path and raw query.
func (c *Cache) targetOf(host, path, rawQuery string) target {
	if path == "" {
		path = "/"
	}
	u := host + path
	if q := c.params.canonicalQuery(rawQuery); q != "" {
		u += "?" + q
	}
	// The hash covers the method too: only GET is stored (HEAD is served
	// from GET), but a future method must not share keys.
	sum := sha256.Sum256([]byte("GET\x00" + u))
	tag := hex.EncodeToString(sum[:16])
	// The escaped path after the hash tag lets InvalidatePrefix find keys
	// with SCAN MATCH. keys.Escape leaves no brace and no glob
	// metacharacter, so it can neither move the hash tag nor widen a
	// pattern; the hash in the tag is what makes the key unique.
	head := c.space.Tagged(tag, "")
	return target{url: u, path: path, key: head + ":p:" + visiblePath(path), head: head, tag: tag}
}

// lockKey returns the key of the fill lock of t for field, the
// concatenation of parts (a variant field, or what stands for a variant
// not known yet), in t's slot: the URL's hash tag, then ":l:" and an FNV-1a
// hash of field (two fields sharing a hash share a lock, which costs
// waiting, never a wrong answer).
func (c *Cache) lockKey(t target, parts ...string) string {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= prime
		}
	}
	b := make([]byte, 0, len(t.head)+3+13)
	b = append(append(b, t.head...), ":l:"...)
	return string(strconv.AppendUint(b, h, 36))
}

func (c *Cache) targetOfRequest(r *http.Request) target {
	return c.targetOf(requestHost(r), r.URL.EscapedPath(), r.URL.RawQuery)
}

// visiblePath returns the escaped form of the longest prefix of path
// whose escaped form fits maxVisiblePath bytes. Escaping byte by byte is
// prefix-preserving, so path starts with p exactly when visiblePath(path)
// starts with the escaped p (for any p short enough).
func visiblePath(path string) string {
	n := 0
	for i := 0; i < len(path); i++ {
		w := 3
		if plainByte(path[i]) {
			w = 1
		}
		if n+w > maxVisiblePath {
			path = path[:i]
			break
		}
		n += w
	}
	if path == "" {
		return "%"
	}
	return keys.Escape(path)
}

// plainByte mirrors the bytes keys.Escape keeps as they are.
func plainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '-' || c == '_' || c == '@' || c == '/'
}

// varyNames returns the header names a response's Vary fields list:
// lower-cased, sorted, without duplicates, comma-joined; "*" when one of
// them is "*".
func varyNames(h http.Header) string {
	vs := h.Values("Vary")
	if len(vs) == 0 {
		return ""
	}
	var names []string
	for _, v := range vs {
		for n := range strings.SplitSeq(v, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n == "*" {
				return "*"
			}
			if n != "" && n[0] != '@' { // "@": no field name; our own names (sessionName)
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// normalisedValue returns the value a request header field has for
// variant selection: every line joined, each comma-separated member
// trimmed of whitespace, empty members dropped (RFC 9111 section 4.1
// allows this normalisation). ok is false when the field is absent.
func normalisedValue(h http.Header, name string) (string, bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	if len(vs) == 1 && !strings.ContainsAny(vs[0], ", \t") {
		return vs[0], true
	}
	var b strings.Builder
	for _, v := range vs {
		for m := range strings.SplitSeq(v, ",") {
			m = strings.TrimSpace(m)
			if m == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(m)
		}
	}
	return b.String(), true
}

// maxVariantField is the longest variant field name kept verbatim; longer
// ones are replaced by a SHA-1 of themselves (lookup.lua does the same).
const maxVariantField = 256

// sessionName is the name, in a URL's Vary names, of the session a
// response was produced under (see selector). It starts with "@", which no
// header field name can, so no response's Vary can name it.
const sessionName = "@session"

// selector is what picks a request's variant among a URL's stored
// responses: the request's header fields (those a response's Vary names),
// the scheme, which keeps responses to http and https requests apart
// within one URL's entry (so invalidating the URL clears both), and the
// session, under the session middleware.
type selector struct {
	h      http.Header
	scheme string // "http" or "https"
	// session is the request's session key (a hash of its session cookie,
	// "" for a guest); hasSession is false outside the session middleware.
	session    string
	hasSession bool
}

// base returns the start of every variant field of the selector: the
// scheme's part.
func (s selector) base() string {
	switch s.scheme {
	case "http":
		return "e:http|"
	case "https":
		return "e:https|"
	}
	return "e:" + s.scheme + "|"
}

// value returns the value the request has for the Vary name n; ok is false
// when it has none.
func (s selector) value(n string) (string, bool) {
	if n == sessionName {
		return s.session, s.hasSession
	}
	return normalisedValue(s.h, n)
}

// variantField returns the hash field of the variant that s selects under
// the Vary names (as varyNames returns them, with sessionName perhaps). It
// must match what lookup.lua computes.
func variantField(names string, s selector) string {
	base := s.base()
	if names == "" {
		return base
	}
	var b strings.Builder
	b.WriteString(base)
	for n := range strings.SplitSeq(names, ",") {
		b.WriteString(n)
		if v, ok := s.value(n); ok {
			b.WriteByte('=')
			b.WriteString(strconv.Itoa(len(v)))
			b.WriteByte(':')
			b.WriteString(v)
		}
		b.WriteByte(';')
	}
	f := b.String()
	if len(f) > maxVariantField {
		sum := sha1.Sum([]byte(f))
		return "e:#" + hex.EncodeToString(sum[:])
	}
	return f
}

// lookupArgs returns the arguments of lookup.lua for s: the Vary names
// the caller expects (hint; "*" when unknown), the base of the variant
// fields, the lock token ("": take no lock) and the lock's TTL in
// milliseconds, the variant field the hint selects (field; "" when the
// hint is "*"), and when the hint is "*", name and value of every field of
// the request, and the session.
func lookupArgs(hint string, s selector, token string, lockMS any, field string) []any {
	args := []any{hint, s.base(), token, lockMS, field}
	if hint != "*" {
		return args
	}
	for k := range s.h {
		if strings.HasPrefix(k, "@") {
			continue // not a field name; never one of ours either
		}
		if v, ok := normalisedValue(s.h, k); ok {
			args = append(args, strings.ToLower(k), v)
		}
	}
	if s.hasSession {
		args = append(args, sessionName, s.session)
	}
	return args
}

// requestScheme returns the scheme of r: https over TLS; else the last
// X-Forwarded-Proto member, http or https, when the connection comes from
// one of Settings.TrustedProxies; else http.
func (c *Cache) requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	vs := r.Header.Values("X-Forwarded-Proto")
	if len(vs) == 0 || len(c.trusted) == 0 || !c.trustedPeer(r.RemoteAddr) {
		return "http"
	}
	last := vs[len(vs)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if strings.EqualFold(strings.TrimSpace(last), "https") {
		return "https"
	}
	return "http"
}

// trustedPeer reports whether the connection's address (RemoteAddr) is in
// Settings.TrustedProxies.
func (c *Cache) trustedPeer(remote string) bool {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remote); err == nil {
		addr = a
	} else {
		return false
	}
	addr = addr.WithZone("").Unmap()
	for _, p := range c.trusted {
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// selectorOf returns the selector of r. Under the session middleware
// (session outside, the cache inside, as the package documentation
// lays out) it holds the request's session key.
func (c *Cache) selectorOf(r *http.Request) selector {
	sel := selector{h: r.Header, scheme: c.requestScheme(r)}
	if s := session.FromContext(r.Context()); s != nil {
		sel.session, sel.hasSession = s.VaryKey(), true
	}
	return sel
}

// varyOnSession adds Vary: Cookie to a response header under the session
// middleware, unless it names Cookie already, so caches downstream keep
// each session's response apart too (a guest's page from a signed-in
// user); it reports whether it added it.
func (s selector) varyOnSession(h http.Header) bool {
	if !s.hasSession || hasName(varyNames(h), "cookie") {
		return false
	}
	h.Add("Vary", "Cookie")
	return true
}

// sessionVaried reports whether Vary names set responses apart by session:
// the session itself, or every cookie.
func sessionVaried(names string) bool {
	return hasName(names, sessionName) || hasName(names, "cookie")
}

// hasName reports whether the Vary names (as varyNames returns them)
// include n.
func hasName(names, n string) bool {
	for m := range strings.SplitSeq(names, ",") {
		if m == n {
			return true
		}
	}
	return false
}

// withName returns the Vary names with n added, in order.
func withName(names, n string) string {
	if names == "" {
		return n
	}
	if hasName(names, n) {
		return names
	}
	list := append(strings.Split(names, ","), n)
	slices.Sort(list)
	return strings.Join(list, ",")
}

// withoutName returns the Vary names without n.
func withoutName(names, n string) string {
	if !hasName(names, n) {
		return names
	}
	list := slices.DeleteFunc(strings.Split(names, ","), func(m string) bool { return m == n })
	return strings.Join(list, ",")
}
