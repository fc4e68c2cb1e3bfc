package httpcache

import (
	"strconv"
	"strings"

	"github.com/dunglas/httpsfv"
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
		b.WriteString(sfString(key))
	}
	if s.detail != "" {
		b.WriteString("; detail=")
		b.WriteString(s.detail)
	}
	return b.String()
}

// sfString serialises s, a URL the client chose, as an RFC 9651 string,
// with what a string cannot hold (controls, non-ASCII) replaced by '?'.
func sfString(s string) string {
	v, err := httpsfv.Marshal(httpsfv.NewItem(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)))
	if err != nil { // unreachable: every byte left is one a string holds
		return `"?"`
	}
	return v
}

// validStatusName reports whether s is an RFC 9651 token, which a
// Cache-Status member name must be.
func validStatusName(s string) bool {
	v, err := httpsfv.Marshal(httpsfv.NewItem(httpsfv.Token(s)))
	return err == nil && v == s
}
