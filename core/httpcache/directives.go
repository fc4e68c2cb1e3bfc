package httpcache

import (
	"math"
	"slices"
	"strings"
	"time"
)

// maxDirectives bounds the directives kept from one header, so a client
// cannot make the parser allocate without limit; the restrictive ones are
// kept besides.
const maxDirectives = 64

// restrictive are the directives that only ever make a cache do less
// (store nothing, serve nothing stale): they are kept past maxDirectives,
// so no number of directives before them hides them.
var restrictive = map[string]bool{
	"private": true, "no-store": true, "no-cache": true, "must-revalidate": true, "proxy-revalidate": true,
}

// invalid marks a directive given twice with different values: RFC 9111
// section 4.2.1 asks a cache to treat such a response as stale, which the
// numeric accessors do by answering zero.
const invalid = "\x00invalid"

// cacheControl holds the directives of the Cache-Control fields of a
// request or a response: lower-case names, unquoted values ("" when the
// directive has none). A nil cacheControl has no directives.
type cacheControl map[string]string

// parseCacheControl parses every line of a Cache-Control field (as
// http.Header.Values returns them). It accepts what RFC 9111 section 5.2
// allows, directive names in any case, token or quoted-string values, and
// skips what it cannot read up to the next comma, so garbage never hides
// the directives after it. A directive repeated with the same value is
// kept once; repeated with different values, it is marked invalid.
func parseCacheControl(values []string) cacheControl {
	var cc cacheControl
	others := 0 // directives kept that are not restrictive
	for _, v := range values {
		for i := 0; i < len(v); {
			// skip separators
			for i < len(v) && (v[i] == ',' || v[i] == ' ' || v[i] == '\t') {
				i++
			}
			if i == len(v) {
				break
			}
			start := i
			for i < len(v) && tchar(v[i]) {
				i++
			}
			name := strings.ToLower(v[start:i])
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			value, ok := "", name != ""
			if i < len(v) && v[i] == '=' {
				i++
				for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
					i++
				}
				if i < len(v) && v[i] == '"' {
					var s string
					s, i, ok = quoted(v, i)
					value = s
					ok = ok && name != ""
				} else {
					vs := i
					for i < len(v) && tchar(v[i]) {
						i++
					}
					value = v[vs:i]
				}
			}
			// anything else up to the next comma is garbage: drop the directive
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			if i < len(v) && v[i] != ',' {
				ok = false
				for i < len(v) && v[i] != ',' {
					if v[i] == '"' {
						_, i, _ = quoted(v, i)
						continue
					}
					i++
				}
			}
			if !ok {
				continue
			}
			if cc == nil {
				cc = make(cacheControl, 4)
			}
			if old, seen := cc[name]; seen {
				if old != value {
					cc[name] = invalid
				}
				continue
			}
			switch {
			case restrictive[name]:
				cc[name] = value
			case others < maxDirectives:
				cc[name] = value
				others++
			}
		}
	}
	return cc
}

// quoted reads the quoted-string that starts at v[i] == '"'. It returns
// the unescaped content and the index after the closing quote; ok is false
// when the string is not terminated (the index is then len(v)).
func quoted(v string, i int) (s string, next int, ok bool) {
	i++ // opening quote
	var b strings.Builder
	for i < len(v) {
		switch c := v[i]; c {
		case '"':
			return b.String(), i + 1, true
		case '\\':
			if i+1 < len(v) {
				b.WriteByte(v[i+1])
				i += 2
				continue
			}
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i, false
}

// tchar reports whether c may appear in an RFC 9110 token.
func tchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// privacyNamed reports whether private or no-store appears as a directive
// name anywhere in the Cache-Control lines values, however malformed the
// rest: "private;", "max-age=60; private" and "no-store max-age=0" lose
// the directive in parseCacheControl, but a cache must fail closed on
// them. A name is a token outside quoted strings that does not follow "=".
func privacyNamed(values []string) (private, noStore bool) {
	for _, v := range values {
		afterEq := false
		for i := 0; i < len(v); {
			switch c := v[i]; {
			case c == '"':
				_, i, _ = quoted(v, i)
				afterEq = false
			case tchar(c):
				start := i
				for i < len(v) && tchar(v[i]) {
					i++
				}
				if !afterEq {
					switch strings.ToLower(v[start:i]) {
					case "private":
						private = true
					case "no-store":
						noStore = true
					}
				}
				afterEq = false
			case c == ' ' || c == '	':
				i++
			default:
				afterEq = c == '='
				i++
			}
		}
	}
	return private, noStore
}

// has reports whether the directive name is present.
func (cc cacheControl) has(name string) bool {
	_, ok := cc[name]
	return ok
}

// seconds returns the delta-seconds value of the directive name. ok is
// false when the directive is absent. A value that is not a non-negative
// integer, or a directive repeated with different values, counts as 0, so
// a response that says something unreadable about its freshness is stale
// rather than fresh; values beyond 2^31 seconds are capped there, as RFC
// 9111 section 1.2.2 asks.
func (cc cacheControl) seconds(name string) (d time.Duration, ok bool) {
	v, ok := cc[name]
	if !ok {
		return 0, false
	}
	n, valid := deltaSeconds(v)
	if !valid {
		return 0, true
	}
	return time.Duration(n) * time.Second, true
}

// deltaSeconds parses an RFC 9111 delta-seconds value.
func deltaSeconds(v string) (int64, bool) {
	if v == "" || len(v) > 32 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < math.MaxInt32 {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, math.MaxInt32), true
}

// String formats cc as a Cache-Control value with the directives in
// sorted order (for tests and the fuzz target's round trip).
func (cc cacheControl) String() string {
	names := make([]string, 0, len(cc))
	for k := range cc {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		v := cc[k]
		if v == "" {
			continue
		}
		b.WriteByte('=')
		token := true
		for j := 0; j < len(v); j++ {
			token = token && tchar(v[j])
		}
		if token {
			b.WriteString(v)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}
