package httpcache

import (
	"math"
	"net/http"
	"strings"
)

// requestCC is what a request's Cache-Control (or Pragma) asks of the
// cache. Durations are milliseconds; -1 means the directive is absent.
type requestCC struct {
	noCache, noStore, onlyIfCached bool
	maxAge, maxStale, minFresh     int64
}

func parseRequestCC(h http.Header) requestCC {
	rq := requestCC{maxAge: -1, maxStale: -1, minFresh: -1}
	vs := h.Values("Cache-Control")
	if len(vs) == 0 {
		// RFC 9111 section 5.4: Pragma: no-cache counts only without
		// Cache-Control.
		for _, p := range h.Values("Pragma") {
			if strings.Contains(strings.ToLower(p), "no-cache") {
				rq.noCache = true
			}
		}
		return rq
	}
	cc := parseCacheControl(vs)
	rq.noCache = cc.has("no-cache")
	rq.noStore = cc.has("no-store")
	rq.onlyIfCached = cc.has("only-if-cached")
	if d, ok := cc.seconds("max-age"); ok {
		rq.maxAge = d.Milliseconds()
	}
	if d, ok := cc.seconds("min-fresh"); ok {
		rq.minFresh = d.Milliseconds()
	}
	if v, ok := cc["max-stale"]; ok {
		if v == "" {
			rq.maxStale = math.MaxInt64 // any staleness
		} else if n, valid := deltaSeconds(v); valid {
			rq.maxStale = n * 1000
		}
	}
	return rq
}

// verdict is what to do with a stored response for a request.
type verdict int

const (
	serveFresh      verdict = iota
	serveStale              // the request's max-stale accepts it
	serveAndRefresh         // stale-while-revalidate
	forwardRequest          // the request's directives refuse it
	forwardStale            // stale: revalidate or replace it
)

// judge decides how e may answer a request with directives rq at now.
func judge(e *entry, rq requestCC, now int64) verdict {
	age, ttl := e.age(now), e.ttl(now)
	switch {
	case rq.noCache,
		rq.maxAge >= 0 && age > rq.maxAge,
		rq.minFresh >= 0 && ttl < rq.minFresh:
		return forwardRequest
	case ttl > 0:
		return serveFresh
	case !e.noStale && rq.maxStale >= 0 && -ttl <= rq.maxStale:
		return serveStale
	case !e.noStale && -ttl < e.swr:
		return serveAndRefresh
	}
	return forwardStale
}

// canFallBack reports whether e may answer in place of an error
// (stale-if-error) at now.
func canFallBack(e *entry, now int64) bool {
	return e != nil && !e.noStale && -e.ttl(now) < e.sie
}

// heuristicStatus lists the statuses RFC 9110 section 15.1 makes
// cacheable by default; 206 is left out, as partial content is not
// stored.
func heuristicStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// defaultTTLStatus lists the statuses Route.DefaultTTL gives a freshness
// to: the successful and redirecting ones among heuristicStatus. An error
// (404, 405, 410, 414, 501) is fresh only when the handler says so: a
// route's default must not keep a passing error, or an error page for a
// resource about to exist.
func defaultTTLStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308:
		return true
	}
	return false
}

// plan decides whether a response may be stored for request r, and if so
// returns its entry without header, body and tags, with its times set
// (reqTime: when the request was forwarded; now: when the response
// arrived). why tells a reader why not.
func (c *Cache) plan(r *http.Request, rq requestCC, status int, h http.Header, reqTime, now int64) (e *entry, why string) {
	cc := parseCacheControl(h.Values("Cache-Control"))
	private, noStore := privacyNamed(h.Values("Cache-Control"))
	sc := c.surrogateControl(h)
	explicit := cc.has("max-age") || cc.has("s-maxage") || len(h.Values("Expires")) > 0 || sc.has("max-age")
	// must-understand: store only statuses we understand, and then
	// no-store does not apply (RFC 9111 section 5.2.2.3).
	understood := cc.has("must-understand") && http.StatusText(status) != ""
	switch {
	case r.Method != http.MethodGet:
		return nil, "method"
	case status < 200 || status == http.StatusPartialContent:
		return nil, "status"
	case cc.has("must-understand") && !understood:
		return nil, "must-understand"
	case rq.noStore:
		return nil, "request no-store"
	case sc.has("no-store"):
		return nil, "surrogate no-store"
	case noStore && !understood && !sc.has("max-age"):
		return nil, "no-store"
	case private && !sc.has("max-age"):
		return nil, "private"
	case r.Header.Get("Authorization") != "" && !cc.has("public") && !cc.has("s-maxage") && !cc.has("must-revalidate"):
		return nil, "authorization"
	case len(h.Values("Set-Cookie")) > 0 && !c.route.AllowSetCookie:
		return nil, "set-cookie"
	case varyNames(h) == "*":
		return nil, "vary *"
	case !heuristicStatus(status) && !explicit && !cc.has("public"):
		return nil, "status"
	}
	e = &entry{status: status, stored: now}

	// Age (RFC 9111 section 4.2.3).
	date := now
	if v := h.Get("Date"); v != "" { // (a failed parse costs three errors)
		if d, err := http.ParseTime(v); err == nil {
			date = d.UnixMilli()
		}
	}
	ageValue, ageValid := ageOf(h)
	if !ageValid {
		// an Age that cannot be read: as old as can be, so stale
		ageValue = math.MaxInt32 * 1000
	}
	apparent := max(0, now-date)
	corrected := ageValue + max(0, now-reqTime)
	e.initAge = max(apparent, corrected)

	// Freshness (RFC 9111 section 4.2.1); a Surrogate-Control max-age
	// addressed to this cache wins over Cache-Control.
	switch {
	case sc.has("max-age"):
		d, _ := sc.seconds("max-age")
		e.lifetime = d.Milliseconds()
	case cc.has("no-cache"):
		e.lifetime = 0
	case cc.has("s-maxage"):
		d, _ := cc.seconds("s-maxage")
		e.lifetime = d.Milliseconds()
	case cc.has("max-age"):
		d, _ := cc.seconds("max-age")
		e.lifetime = d.Milliseconds()
	case len(h.Values("Expires")) > 0:
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			e.lifetime = max(0, exp.UnixMilli()-date)
		}
	case c.route.DefaultTTL > 0 && defaultTTLStatus(status):
		e.lifetime = c.route.DefaultTTL.Milliseconds()
	}
	// must-revalidate, proxy-revalidate, s-maxage (which implies
	// proxy-revalidate in a shared cache) and no-cache forbid serving the
	// response stale without validation (RFC 9111 section 4.2.4): no
	// stale-while-revalidate or stale-if-error window overrides them.
	e.noStale = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage") || cc.has("no-cache")
	if !e.noStale {
		if d, ok := cc.seconds("stale-while-revalidate"); ok {
			e.swr = d.Milliseconds()
		}
		if d, ok := cc.seconds("stale-if-error"); ok {
			e.sie = d.Milliseconds()
		} else {
			e.sie = c.route.StaleIfError.Milliseconds()
		}
	}
	validator := h.Get("ETag") != "" || h.Get("Last-Modified") != "" || c.route.ETag && status == http.StatusOK
	// No entry is kept longer than MaxTTL, nor fresh for longer.
	maxTTL := c.opts.MaxTTL.Milliseconds()
	fresh := min(max(0, e.lifetime-e.initAge), maxTTL)
	e.lifetime = min(e.lifetime, e.initAge+fresh)
	extra := max(e.swr, e.sie)
	if fresh > 0 || validator {
		// worth keeping stale: for max-stale requests, and to revalidate
		extra = max(extra, c.opts.KeepStale.Milliseconds())
	}
	e.keep = min(fresh+extra, maxTTL)
	if e.keep <= 0 {
		return nil, "no freshness"
	}
	return e, ""
}

// ageOf returns the Age of a response in milliseconds (0 without one);
// valid is false when the field cannot be read: not one list of
// delta-seconds, or given on several lines.
func ageOf(h http.Header) (ms int64, valid bool) {
	vs := h.Values("Age")
	switch len(vs) {
	case 0:
		return 0, true
	case 1:
	default:
		return 0, false
	}
	// Every member must be delta-seconds (no spaces, signs, fractions or
	// parameters); the first one counts.
	first := int64(-1)
	for member := range strings.SplitSeq(vs[0], ",") {
		n, ok := deltaSeconds(member)
		if !ok {
			return 0, false
		}
		if first < 0 {
			first = n
		}
	}
	return first * 1000, true
}

// surrogateControl returns the Surrogate-Control directives (Edge
// Architecture 1.0) that apply to this cache when
// Route.SurrogateControl is set: those without a target, and
// those targeted at its StatusName, which win; nil otherwise.
func (c *Cache) surrogateControl(h http.Header) cacheControl {
	vs := h.Values("Surrogate-Control")
	if !c.route.SurrogateControl || len(vs) == 0 {
		return nil
	}
	var general, mine []string
	for _, v := range vs {
		for _, member := range splitList(v) {
			d, target, targeted := strings.Cut(member, ";")
			switch {
			case !targeted:
				general = append(general, d)
			case strings.TrimSpace(target) == c.opts.StatusName:
				mine = append(mine, d)
			}
		}
	}
	cc := parseCacheControl(general)
	for k, v := range parseCacheControl(mine) {
		if cc == nil {
			cc = cacheControl{}
		}
		cc[k] = v
	}
	return cc
}

// splitList splits a comma-separated field value, keeping commas inside
// quoted strings.
func splitList(v string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// freshen returns stale renewed by a 304 whose header fields (those the
// handler set) are h304, as RFC 9111 section 4.3.4 says: the stored
// fields are replaced by the 304's, except those that describe the stored
// body. It returns nil when the renewed response may not be stored.
func (c *Cache) freshen(r *http.Request, rq requestCC, stale *entry, h304 http.Header, reqTime, now int64) *entry {
	h := stale.header.Clone()
	for k, vs := range h304 {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Range", "Content-Md5", "Etag", "Transfer-Encoding", "Cache-Status":
			continue // they describe the stored body, or are ours
		}
		h[k] = vs
	}
	e, _ := c.plan(r, rq, stale.status, h, reqTime, now)
	if e == nil {
		return nil
	}
	h.Del("Age")
	h.Del("Surrogate-Control")
	e.header = h
	e.body = stale.body
	e.tags = stale.tags
	return e
}

// storedHeader returns the fields of a response to keep: those the
// handler set or changed (fields set before the cache ran, by outer
// middleware, are set afresh on every request), less the hop-by-hop
// fields, Age (recomputed on every hit) and our own Cache-Status member.
func storedHeader(sent, before http.Header, ownStatus string, dropCookies bool) http.Header {
	out := make(http.Header, len(sent))
	for k, vs := range sent {
		if old, ok := before[k]; ok && equalStrings(old, vs) {
			continue
		}
		switch k {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade",
			"Proxy-Authenticate", "Proxy-Authorization", "Age":
			continue
		case "Set-Cookie":
			if dropCookies {
				continue
			}
		case "Cache-Status":
			kept := make([]string, 0, len(vs))
			for _, v := range vs {
				if v != ownStatus {
					kept = append(kept, v)
				}
			}
			if len(kept) == 0 {
				continue
			}
			vs = kept
		}
		out[k] = vs
	}
	// Fields named by Connection are hop-by-hop too.
	for _, v := range sent.Values("Connection") {
		for f := range strings.SplitSeq(v, ",") {
			delete(out, http.CanonicalHeaderKey(strings.TrimSpace(f)))
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// notModified reports whether a request's conditional header fields
// (RFC 9110 section 13) let a response with header h and status be
// answered with 304: If-None-Match by weak comparison, else
// If-Modified-Since against Last-Modified. Only 200 responses qualify.
func notModified(r *http.Request, status int, h http.Header) bool {
	if status != http.StatusOK {
		return false
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		etag := h.Get("ETag")
		if etag == "" {
			return false
		}
		for _, v := range inm {
			for _, t := range etagList(v) {
				if t == "*" || weakMatch(t, etag) {
					return true
				}
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return false
	}
	return !lm.After(since)
}

// etagList splits an If-None-Match value into its entity tags ("*" or
// W/"..." or "..."); a comma inside quotes does not split.
func etagList(v string) []string {
	var out []string
	for i := 0; i < len(v); {
		for i < len(v) && (v[i] == ',' || v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i == len(v) {
			break
		}
		start := i
		if strings.HasPrefix(v[i:], "W/") {
			i += 2
		}
		if i < len(v) && v[i] == '"' {
			end := strings.IndexByte(v[i+1:], '"')
			if end < 0 {
				return out // unterminated: ignore the rest
			}
			i += end + 2
		} else {
			for i < len(v) && v[i] != ',' {
				i++
			}
		}
		out = append(out, strings.TrimSpace(v[start:i]))
	}
	return out
}

// weakMatch compares two entity tags by RFC 9110's weak comparison.
func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// notModifiedFields are the fields a 304 carries (RFC 9110 section
// 15.4.5), with Last-Modified and our own Age and Cache-Status.
var notModifiedFields = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary", "Last-Modified"}

// durationSeconds formats ms as whole seconds, rounded down.
func durationSeconds(ms int64) int64 {
	if ms < 0 {
		return -((-ms + 999) / 1000)
	}
	return ms / 1000
}
