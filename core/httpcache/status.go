package httpcache

import (
	"strconv"
	"strings"
)

// cacheStatus is one member of the Cache-Status field (RFC 9211).
type cacheStatus struct {
	hit       bool
	fwd       string // uri-miss, vary-miss, miss, request, stale, method, bypass
	fwdStatus int
	stored    bool
	collapsed bool
	ttl       int64 // ms
	hasTTL    bool
	detail    string
}

// format renders s as a Cache-Status list member named by the cache.
func (c *Cache) format(s cacheStatus, key string) string {
	var b strings.Builder
	b.WriteString(c.opts.StatusName)
	if s.hit {
		b.WriteString("; hit")
	} else if s.fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(s.fwd)
		if s.fwdStatus > 0 {
			b.WriteString("; fwd-status=")
			b.WriteString(strconv.Itoa(s.fwdStatus))
		}
	}
	if s.stored {
		b.WriteString("; stored")
	}
	if s.collapsed {
		b.WriteString("; collapsed")
	}
	if s.hasTTL {
		b.WriteString("; ttl=")
		// rounded to the nearest second; Age, by contrast, rounds down
		b.WriteString(strconv.FormatInt(durationSeconds(s.ttl+500), 10))
	}
	if c.opts.ShowKey && key != "" {
		b.WriteString("; key=")
		b.WriteString(strconv.Quote(asciiOnly(key)))
	}
	if s.detail != "" {
		b.WriteString("; detail=")
		b.WriteString(s.detail)
	}
	return b.String()
}

// asciiOnly replaces what an RFC 8941 string cannot hold.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
