package httpcache

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redisware/redisware/core/internal/keys"
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
// spelling, filtered, and sorted by name then value, so ?b=2&a=1 and
// ?a=1&b=2 share an entry.
func (f paramFilter) canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type param struct{ name, value, enc string }
	var ps []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, value, hasValue := strings.Cut(part, "=")
		dn, err1 := url.QueryUnescape(name)
		dv, err2 := url.QueryUnescape(value)
		enc := part
		if err1 == nil && err2 == nil {
			enc = url.QueryEscape(dn)
			if hasValue {
				enc += "=" + url.QueryEscape(dv)
			}
		} else {
			dn, dv = name, value
		}
		if len(f.keep) > 0 && !matchParam(f.keep, dn) || matchParam(f.ignore, dn) {
			continue
		}
		ps = append(ps, param{dn, dv, enc})
	}
	slices.SortStableFunc(ps, func(a, b param) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
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
	return target{url: u, path: path, key: c.space.Tagged(tag, ":p:"+visiblePath(path))}
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
			if n != "" {
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

// variantField returns the hash field of the variant of request header h
// under the Vary names (as varyNames returns them). It must match what
// lookup.lua computes.
func variantField(names string, h http.Header) string {
	if names == "" {
		return "e:"
	}
	var b strings.Builder
	b.WriteString("e:")
	for n := range strings.SplitSeq(names, ",") {
		b.WriteString(n)
		if v, ok := normalisedValue(h, n); ok {
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

// lookupArgs returns the arguments of lookup.lua for request header h:
// the Vary names the caller expects (hint; "*" when unknown), then name
// and normalised value of each request header the script may need: those
// the hint names, or every one of them when there is no hint.
func lookupArgs(hint string, h http.Header) []any {
	args := []any{hint}
	if hint == "" {
		return args
	}
	if hint != "*" {
		for n := range strings.SplitSeq(hint, ",") {
			if v, ok := normalisedValue(h, n); ok {
				args = append(args, n, v)
			}
		}
		return args
	}
	for k := range h {
		if v, ok := normalisedValue(h, k); ok {
			args = append(args, strings.ToLower(k), v)
		}
	}
	return args
}
