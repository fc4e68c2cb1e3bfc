package httpcache

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/capture"
	"github.com/redisware/redisware/core/internal/problem"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// DefaultTagHeaders are the response header fields read for tags unless
// MiddlewareOptions.TagHeaders says otherwise.
var DefaultTagHeaders = []string{"Surrogate-Key", "Cache-Tag"}

// MiddlewareOptions configures the HTTP side of a Cache for the routes a
// Middleware serves. Every field is optional.
type MiddlewareOptions struct {
	// DefaultTTL is the freshness lifetime of a response that states none
	// (no s-maxage, max-age or Expires), for statuses that are cacheable
	// by default (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501).
	// no-store, private and no-cache from the handler always win. Zero
	// means none: such responses follow HTTP alone (stored only to be
	// revalidated, with Options.KeepStale).
	DefaultTTL time.Duration
	// Tags returns tags for the response to a request, in addition to
	// those the response's tag header fields carry; InvalidateTags
	// forgets every response with a tag. Zero adds none.
	Tags func(r *http.Request) []string
	// TagHeaders are the response header fields whose values are tags,
	// separated by commas or spaces. They are removed from the response
	// (as CDNs do). Zero means Surrogate-Key and Cache-Tag; an empty
	// non-nil slice reads none.
	TagHeaders []string
	// ETag gives a stored 200 response without an ETag a strong one, the
	// hash of its body, so clients can revalidate it with If-None-Match.
	// The response that fills the cache goes out without it; every hit
	// carries it. Off by default.
	ETag bool
	// AllowSetCookie stores responses that set cookies, without their
	// Set-Cookie fields (the client that caused the miss still gets its
	// cookies). By default such responses are not stored, and never
	// handed to another request.
	AllowSetCookie bool
	// Skip, when it returns true, lets a request through untouched: no
	// lookup, no storing, no Cache-Status. Zero skips nothing.
	Skip func(r *http.Request) bool
	// StaleIfError is the stale-if-error window of responses that state
	// none and do not forbid serving stale (must-revalidate,
	// proxy-revalidate, s-maxage, no-cache): within it a stale response
	// answers in place of a 5xx or a panic, as RFC 9111 section 4.2.4
	// allows a cache cut off from its origin. It also keeps such responses
	// that long. Zero means none.
	StaleIfError time.Duration
	// SurrogateControl honours the Surrogate-Control response field (Edge
	// Architecture 1.0) as a CDN does: its max-age and no-store, without a
	// target or targeted at Options.StatusName, win over Cache-Control for
	// this cache, and forwarded requests announce the cache with
	// Surrogate-Capability. The field is removed from responses. Off by
	// default.
	SurrogateControl bool
}

// Middleware is the framework-neutral HTTP face of a Cache: the nethttp,
// ginmw and echomw adapters call Serve. It is safe for concurrent use.
type Middleware struct {
	c    *Cache
	opts MiddlewareOptions
}

// NewMiddleware returns the HTTP middleware of c with opts.
func NewMiddleware(c *Cache, opts MiddlewareOptions) (*Middleware, error) {
	if c == nil {
		return nil, errors.New("httpcache: nil Cache")
	}
	if opts.DefaultTTL < 0 || opts.StaleIfError < 0 {
		return nil, errors.New("httpcache: negative DefaultTTL or StaleIfError")
	}
	if opts.TagHeaders == nil {
		opts.TagHeaders = DefaultTagHeaders
	}
	return &Middleware{c: c, opts: opts}, nil
}

// Cache returns the cache behind m.
func (m *Middleware) Cache() *Cache { return m.c }

// Rejection is the answer the middleware gives instead of running the
// handler: 504 to a request with Cache-Control: only-if-cached that
// nothing stored can answer.
type Rejection struct {
	// Status is 504.
	Status int
	// Detail explains the rejection to the client.
	Detail string
	// CacheStatus is the Cache-Status member to send with it.
	CacheStatus string
}

// Body returns the RFC 9457 problem body of rej.
func (rej *Rejection) Body() []byte { return problem.New(rej.Status, rej.Detail).Body() }

// SetHeaders sets the fields that go with rej (Cache-Status).
func (rej *Rejection) SetHeaders(h http.Header) { h.Add("Cache-Status", rej.CacheStatus) }

// Reject writes rej as application/problem+json.
func (m *Middleware) Reject(w http.ResponseWriter, r *http.Request, rej *Rejection) {
	rej.SetHeaders(w.Header())
	problem.Write(w, problem.New(rej.Status, rej.Detail))
}

// ServeHTTP answers r from the cache or through next, writing any
// rejection itself. A stale-while-revalidate refresh runs next in a
// goroutine of its own after the stale response was sent.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := m.Serve(w, r, next, next); rej != nil {
		m.Reject(w, r, rej)
	}
}

// Serve answers r from the cache or through next, and returns a Rejection
// the caller must write (adapters do so in their framework's idiom), or
// nil when the request was answered.
//
// background, when not nil, is a handler that may run after Serve has
// returned, in a goroutine of its own, to refresh a stale response that
// was served under stale-while-revalidate. When it is nil the refresh runs
// next after the stale response was sent and flushed, before Serve
// returns (for frameworks whose request context must not outlive the
// request).
func (m *Middleware) Serve(w http.ResponseWriter, r *http.Request, next, background http.Handler) *Rejection {
	t := m.c.tel.t
	if !t.On || !trace.SpanContextFromContext(r.Context()).IsValid() {
		// A span is made only as a child of the request's span.
		return m.serve(w, r, next, background)
	}
	ctx, span := t.Tracer.Start(r.Context(), "redisware.httpcache", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(telemetry.Policy.String(m.c.opts.Name)))
	if !span.IsRecording() {
		defer span.End()
		return m.serve(w, r, next, background)
	}
	rej := m.serve(w, r.WithContext(ctx), next, background)
	if st := w.Header().Values("Cache-Status"); len(st) > 0 {
		span.SetAttributes(attribute.String("redisware.cache.status", st[len(st)-1]))
	}
	span.End()
	return rej
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next, background http.Handler) *Rejection {
	c := m.c
	if m.opts.Skip != nil && m.opts.Skip(r) {
		c.tel.bypassed(r.Context(), "skip")
		next.ServeHTTP(w, r)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.tel.bypassed(r.Context(), "method")
		m.passUnsafe(w, r, next)
		return nil
	}
	ctx := r.Context()
	rq := parseRequestCC(r.Header)
	t := c.targetOfRequest(r)
	now := c.nowMS()
	f, err := c.lookup(ctx, t, r.Header, now)
	if err != nil {
		c.report(ctx, fmt.Errorf("httpcache: lookup: %w", err))
		c.tel.bypassed(ctx, "redis_unavailable")
		if rq.onlyIfCached {
			return m.gatewayTimeout(t)
		}
		w.Header().Add("Cache-Status", c.format(cacheStatus{fwd: "bypass", detail: "redis-unavailable"}, t.url))
		next.ServeHTTP(w, r)
		return nil
	}
	fwd := "uri-miss"
	if f.exists && f.vary != "" {
		fwd = "vary-miss"
	}
	var stale *entry
	if e := f.e; e != nil {
		switch judge(e, rq, now) {
		case serveFresh:
			if f.local {
				c.tel.request(ctx, outcomeLocalHit)
			} else {
				c.tel.request(ctx, outcomeHit)
			}
			m.serveEntry(w, r, e, now, cacheStatus{hit: true, ttl: e.ttl(now), hasTTL: true}, t)
			return nil
		case serveStale:
			c.tel.request(ctx, outcomeStale)
			m.serveEntry(w, r, e, now, cacheStatus{hit: true, ttl: e.ttl(now), hasTTL: true}, t)
			return nil
		case serveAndRefresh:
			c.tel.request(ctx, outcomeStale)
			m.serveEntry(w, r, e, now, cacheStatus{hit: true, ttl: e.ttl(now), hasTTL: true, detail: "stale-while-revalidate"}, t)
			m.refresh(w, r, rq, t, f, e, next, background)
			return nil
		case forwardRequest:
			fwd = "request"
		case forwardStale:
			fwd = "stale"
		}
		stale = e
	}
	if fwd == "request" {
		c.tel.bypassed(ctx, "request")
	} else {
		c.tel.request(ctx, outcomeMiss)
	}
	if rq.onlyIfCached {
		return m.gatewayTimeout(t)
	}
	if r.Method == http.MethodHead {
		// A HEAD is answered from a stored GET, never stored itself.
		w.Header().Add("Cache-Status", c.format(cacheStatus{fwd: fwd}, t.url))
		next.ServeHTTP(w, r)
		return nil
	}
	m.fill(w, r, rq, t, f, fwd, stale, next)
	return nil
}

func (m *Middleware) gatewayTimeout(t target) *Rejection {
	return &Rejection{Status: http.StatusGatewayTimeout,
		Detail:      "The request asked for a stored response only (only-if-cached), and none is stored.",
		CacheStatus: m.c.format(cacheStatus{fwd: "miss", detail: "only-if-cached"}, t.url)}
}

// fillResult is what a request that ran the handler shares with the
// requests that waited for it.
type fillResult struct {
	e     *entry // nil: nothing to share (private, a cookie, too large, an error)
	vary  string
	field string
}

// fill answers a GET that the cache cannot answer: one request per key
// runs the handler, across instances, and the others get its response
// when it may be shared.
func (m *Middleware) fill(w http.ResponseWriter, r *http.Request, rq requestCC, t target, f found, fwd string, stale *entry, next http.Handler) {
	c := m.c
	ctx := r.Context()
	// Requests whose response could not be shared anyway run on their own.
	if rq.noStore || r.Header.Get("Authorization") != "" || c.opts.WaitTimeout < 0 {
		m.run(w, r, rq, t, fwd, stale, next)
		return
	}
	field := "?"
	if f.exists {
		field = f.field
	}
	fkey := t.key + "\x00" + field
	fl, leader := c.flights.join(fkey)
	if !leader {
		if res, _ := fl.wait(ctx, c.opts.WaitTimeout).(*fillResult); res != nil && m.shareable(res, r, rq) {
			now := c.nowMS()
			m.serveEntry(w, r, res.e, now, cacheStatus{fwd: fwd, collapsed: true, ttl: res.e.ttl(now), hasTTL: true}, t)
			return
		}
		m.run(w, r, rq, t, fwd, stale, next)
		return
	}
	var res *fillResult
	defer func() { c.flights.finish(fkey, fl, res) }()
	var polled found
	release, ready := c.lead(ctx, fkey, func(ctx context.Context) bool {
		now := c.nowMS()
		p, err := c.lookup(ctx, t, r.Header, now)
		if err != nil || p.e == nil || p.e.ttl(now) <= 0 || (stale != nil && p.e.stored == stale.stored) || judge(p.e, rq, now) != serveFresh {
			return false
		}
		polled = p
		return true
	})
	if ready {
		now := c.nowMS()
		res = &fillResult{e: polled.e, vary: polled.vary, field: polled.field}
		m.serveEntry(w, r, polled.e, now, cacheStatus{fwd: fwd, collapsed: true, ttl: polled.e.ttl(now), hasTTL: true}, t)
		return
	}
	if release != nil {
		defer release()
	}
	res = m.run(w, r, rq, t, fwd, stale, next)
}

// shareable reports whether the response res another request produced
// may answer r: it was stored (so neither private nor setting a cookie),
// it is the variant r selects, and r's directives accept it.
func (m *Middleware) shareable(res *fillResult, r *http.Request, rq requestCC) bool {
	if res.e == nil || variantField(res.vary, r.Header) != res.field {
		return false
	}
	now := m.c.nowMS()
	v := judge(res.e, rq, now)
	return v == serveFresh || v == serveStale || (v == forwardRequest && rq.noCache)
}

// refresh renews a stale response served under stale-while-revalidate,
// once across instances.
func (m *Middleware) refresh(w http.ResponseWriter, r *http.Request, rq requestCC, t target, f found, stale *entry, next, background http.Handler) {
	c := m.c
	fkey := "refresh\x00" + t.key + "\x00" + f.field
	fl, leader := c.flights.join(fkey)
	if !leader {
		return
	}
	task := func(r *http.Request, h http.Handler) {
		defer c.flights.finish(fkey, fl, nil)
		defer func() {
			if p := recover(); p != nil {
				c.logger.LogAttrs(r.Context(), slog.LevelError, "httpcache: the handler panicked in a background refresh",
					slog.String("cache", c.opts.Name), slog.Any("panic", p))
			}
		}()
		l, err := c.locker.Obtain(r.Context(), "hc:"+c.opts.Name+":refresh:"+t.key+"\x00"+f.field, c.opts.FillTimeout, nil)
		if err != nil {
			return // another instance refreshes it, or Redis is away
		}
		defer func() { _ = l.Release(context.WithoutCancel(r.Context())) }()
		m.run(newDiscard(), r, rq, t, "stale", stale, h)
	}
	bg := r.Clone(context.WithoutCancel(r.Context()))
	if background != nil {
		go task(bg, background)
		return
	}
	_ = http.NewResponseController(w).Flush()
	task(bg, next)
}

// run forwards r to next and stores the response when it may be stored.
// stale is the stored response being replaced, if any: its validators make
// the request conditional, a 304 renews it, and an error (a 5xx or a
// panic) is answered with it while stale-if-error allows.
func (m *Middleware) run(w http.ResponseWriter, r *http.Request, rq requestCC, t target, fwd string, stale *entry, next http.Handler) *fillResult {
	c := m.c
	fw := &fillWriter{m: m, w: w, r: r, rq: rq, t: t, fwd: fwd, before: w.Header().Clone(), reqTime: c.nowMS()}
	if canFallBack(stale, fw.reqTime) {
		fw.fallback = stale
	}
	fr := r
	if m.opts.SurrogateControl {
		fr = r.Clone(r.Context())
		fr.Header.Add("Surrogate-Capability", c.opts.StatusName+`="Surrogate/1.0"`)
	}
	if !rq.noStore {
		// Ask for the whole response, so it can be stored; the client's
		// own conditions are answered from it.
		condition := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""
		var etag, lastMod string
		if stale != nil && stale.status == http.StatusOK {
			etag, lastMod = stale.header.Get("ETag"), stale.header.Get("Last-Modified")
		}
		if condition || etag != "" || lastMod != "" {
			if fr == r {
				fr = r.Clone(r.Context())
			}
			fr.Header.Del("If-None-Match")
			fr.Header.Del("If-Modified-Since")
			fw.ownConditions = condition
			if etag != "" {
				fr.Header.Set("If-None-Match", etag)
			}
			if lastMod != "" {
				fr.Header.Set("If-Modified-Since", lastMod)
			}
			if etag != "" || lastMod != "" {
				fw.revalidating = stale
			}
		}
	}
	completed := false
	defer func() {
		if completed {
			return
		}
		// The handler panicked: answer with the stale response when
		// stale-if-error allows and nothing was sent yet; otherwise the
		// panic goes on untouched.
		if fw.fallback == nil || (fw.mode != modeUndecided && fw.mode != modeHoldError) {
			return
		}
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			c.logger.LogAttrs(r.Context(), slog.LevelError, "httpcache: the handler panicked; answered with a stale response (stale-if-error)",
				slog.String("cache", c.opts.Name), slog.Any("panic", p))
			fw.restoreHeader()
			m.serveEntry(w, r, fw.fallback, c.nowMS(), cacheStatus{fwd: fwd, ttl: fw.fallback.ttl(c.nowMS()), hasTTL: true, detail: "stale-if-error"}, t)
			return
		}
		if p != nil {
			panic(p)
		}
	}()
	next.ServeHTTP(fw, fr)
	completed = true
	return fw.finish()
}

// Modes of a fillWriter, decided when the handler sends its status.
const (
	modeUndecided   = iota
	modePass        // the response goes to the client, recorded for storing
	modeNotModified // the client gets 304 (its own condition); the response is recorded
	modeHold304     // a revalidation answered 304: the renewed stored response goes out
	modeHoldError   // an error with a stale fallback: the stale response goes out
)

// fillWriter is the writer a forwarded request's handler writes to. It
// decides, when the status is sent, whether the response may be stored,
// and passes it through to the client while a capture.Recorder keeps it
// (up to MaxBodyBytes: a larger one streams on, and is not stored).
type fillWriter struct {
	m       *Middleware
	w       http.ResponseWriter
	r       *http.Request
	rq      requestCC
	t       target
	fwd     string
	before  http.Header
	reqTime int64

	revalidating  *entry // the stale response whose validators were sent
	fallback      *entry // the stale response that answers an error
	ownConditions bool   // the client's conditions were taken off the request

	mode      int
	status    int
	rec       *capture.Recorder
	held      http.Header // modeHold304: the 304's fields
	plan      *entry
	tags      []string
	ownStatus string
	hijacked  bool
}

func (fw *fillWriter) Header() http.Header { return fw.w.Header() }

func (fw *fillWriter) WriteHeader(status int) {
	if fw.mode != modeUndecided {
		return
	}
	if status >= 100 && status < 200 {
		if status != http.StatusSwitchingProtocols {
			fw.w.WriteHeader(status) // informational, such as 103 Early Hints
			return
		}
	}
	fw.decide(status)
}

func (fw *fillWriter) Write(p []byte) (int, error) {
	if fw.mode == modeUndecided {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.rec != nil {
		return fw.rec.Write(p)
	}
	return len(p), nil
}

func (fw *fillWriter) WriteString(s string) (int, error) { return fw.Write([]byte(s)) }

// Flush sends what was written, when the response goes to the client. A
// response that will be stored is not flushed while it fits
// MaxBodyBytes: the client must not see it complete before it is stored,
// or its next request could miss.
func (fw *fillWriter) Flush() {
	if fw.mode == modeUndecided {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.mode == modePass && (fw.plan == nil || !fw.rec.Complete()) {
		fw.rec.Flush()
	}
}

// Hijack takes over the connection; a hijacked response is never stored.
func (fw *fillWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	fw.hijacked = true
	return http.NewResponseController(fw.w).Hijack()
}

// Unwrap returns the client's writer, for http.ResponseController.
func (fw *fillWriter) Unwrap() http.ResponseWriter { return fw.w }

func (fw *fillWriter) decide(status int) {
	m, c := fw.m, fw.m.c
	h := fw.w.Header()
	fw.status = status
	switch {
	case fw.revalidating != nil && status == http.StatusNotModified:
		fw.mode, fw.held = modeHold304, changedHeader(h, fw.before)
		return
	case fw.fallback != nil && status >= 500:
		fw.mode = modeHoldError
		return
	}
	fw.tags = m.takeTags(fw.r, h)
	now := c.nowMS()
	plan, _ := m.plan(fw.r, fw.rq, status, h, fw.reqTime, now)
	if m.opts.SurrogateControl {
		h.Del("Surrogate-Control") // meant for this cache alone
	}
	if plan != nil {
		if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n > int64(c.opts.MaxBodyBytes) {
			plan = nil // it would not fit
		}
	}
	fw.plan = plan
	st := cacheStatus{fwd: fw.fwd, fwdStatus: status}
	if plan != nil {
		st.stored, st.ttl, st.hasTTL = true, plan.lifetime-plan.initAge, true
	}
	fw.ownStatus = c.format(st, fw.t.url)
	h.Add("Cache-Status", fw.ownStatus)
	limit := c.opts.MaxBodyBytes
	if plan == nil {
		limit = -1
	}
	if fw.ownConditions && notModified(fw.r, status, h) {
		// The client's condition holds: it gets 304, and the whole
		// response is recorded for the cache alone.
		fw.mode = modeNotModified
		fw.rec = capture.New(&discard{header: h.Clone()}, limit)
		fw.rec.WriteHeader(status)
		keepOnly(h, fw.before, notModifiedFields)
		fw.w.WriteHeader(http.StatusNotModified)
		return
	}
	fw.mode = modePass
	fw.rec = capture.New(fw.w, limit)
	fw.rec.WriteHeader(status)
}

// finish ends a forwarded request once its handler returned: it answers
// held responses, and stores what may be stored.
func (fw *fillWriter) finish() *fillResult {
	m, c := fw.m, fw.m.c
	if fw.mode == modeUndecided {
		fw.WriteHeader(http.StatusOK) // the handler wrote nothing: an empty 200
	}
	ctx := context.WithoutCancel(fw.r.Context())
	now := c.nowMS()
	switch fw.mode {
	case modeHold304:
		fw.restoreHeader()
		e := m.freshen(fw.r, fw.rq, fw.revalidating, fw.held, fw.reqTime, now)
		if e == nil {
			// still valid, but the 304 forbids storing it any longer
			m.serveEntry(fw.w, fw.r, fw.revalidating, now, cacheStatus{fwd: fw.fwd, fwdStatus: http.StatusNotModified}, fw.t)
			return nil
		}
		vary := varyNames(e.header)
		field := variantField(vary, fw.r.Header)
		st := cacheStatus{fwd: fw.fwd, fwdStatus: http.StatusNotModified, ttl: e.ttl(now), hasTTL: true}
		st.stored = m.store(ctx, fw.t, vary, field, e)
		m.serveEntry(fw.w, fw.r, e, now, st, fw.t)
		return &fillResult{e: e, vary: vary, field: field}
	case modeHoldError:
		fw.restoreHeader()
		e := fw.fallback
		m.serveEntry(fw.w, fw.r, e, now, cacheStatus{fwd: fw.fwd, fwdStatus: fw.status, ttl: e.ttl(now), hasTTL: true, detail: "stale-if-error"}, fw.t)
		return &fillResult{e: e, vary: varyNames(e.header), field: variantField(varyNames(e.header), fw.r.Header)}
	}
	e := fw.plan
	if e == nil || !fw.rec.Complete() || fw.hijacked {
		return nil
	}
	e.header = storedHeader(fw.rec.SentHeader(), fw.before, fw.ownStatus, m.opts.AllowSetCookie)
	e.body = fw.rec.Body()
	if len(e.body) > 0 {
		e.body = append([]byte(nil), e.body...)
	}
	e.tags = fw.tags
	if m.opts.ETag && e.status == http.StatusOK && e.header.Get("ETag") == "" {
		sum := sha256.Sum256(e.body)
		e.header.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:18])+`"`)
	}
	vary := varyNames(e.header)
	field := variantField(vary, fw.r.Header)
	if !m.store(ctx, fw.t, vary, field, e) {
		return nil
	}
	return &fillResult{e: e, vary: vary, field: field}
}

// restoreHeader puts the client's header back as it was before the
// handler ran, for an answer the cache gives instead.
func (fw *fillWriter) restoreHeader() {
	h := fw.w.Header()
	for k := range h {
		delete(h, k)
	}
	for k, vs := range fw.before {
		h[k] = vs
	}
}

// store stores e, reporting a failure; it returns whether it stored.
func (m *Middleware) store(ctx context.Context, t target, vary, field string, e *entry) bool {
	if err := m.c.storeEntry(ctx, t, vary, field, e); err != nil {
		m.c.report(ctx, fmt.Errorf("httpcache: storing a response: %w", err))
		return false
	}
	return true
}

// takeTags returns the tags of a response (its tag header fields, which
// it removes, and MiddlewareOptions.Tags), at most DefaultMaxTags.
func (m *Middleware) takeTags(r *http.Request, h http.Header) []string {
	var tags []string
	for _, name := range m.opts.TagHeaders {
		for _, v := range h.Values(name) {
			tags = append(tags, strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })...)
		}
		h.Del(name)
	}
	if m.opts.Tags != nil {
		tags = append(tags, m.opts.Tags(r)...)
	}
	return cleanTags(tags)
}

// cleanTags drops empty and repeated tags and keeps at most DefaultMaxTags.
func cleanTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if t == "" || seen[t] || len(out) == DefaultMaxTags {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// serveEntry writes a stored response: its status, every field, Age,
// Cache-Status and the body (none for HEAD), or 304 when the request's
// conditions allow.
func (m *Middleware) serveEntry(w http.ResponseWriter, r *http.Request, e *entry, now int64, st cacheStatus, t target) {
	h := w.Header()
	if notModified(r, e.status, e.header) {
		for _, k := range notModifiedFields {
			if vs, ok := e.header[k]; ok {
				h[k] = append([]string(nil), vs...)
			}
		}
		h.Set("Age", strconv.FormatInt(durationSeconds(e.age(now)), 10))
		h.Add("Cache-Status", m.c.format(st, t.url))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, vs := range e.header.Clone() {
		h[k] = vs
	}
	h.Set("Age", strconv.FormatInt(durationSeconds(e.age(now)), 10))
	h.Add("Cache-Status", m.c.format(st, t.url))
	status, body := e.status, e.body
	if v := r.Header.Get("Range"); v != "" && r.Method == http.MethodGet && status == http.StatusOK && ifRange(r, e.header) {
		switch start, end, ok := byteRange(v, len(body)); {
		case ok && start < 0:
			h.Set("Content-Range", "bytes */"+strconv.Itoa(len(body)))
			status, body = http.StatusRequestedRangeNotSatisfiable, nil
		case ok:
			h.Set("Content-Range", "bytes "+strconv.Itoa(start)+"-"+strconv.Itoa(end-1)+"/"+strconv.Itoa(len(body)))
			status, body = http.StatusPartialContent, body[start:end]
		}
	}
	if status != http.StatusNoContent && status != http.StatusNotModified && status >= 200 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// byteRange reads a Range field of one byte range ("bytes=0-99",
// "bytes=100-", "bytes=-20") over a body of size bytes, and returns the
// half-open range [start, end). ok is false when the field is not one
// byte range (the whole body is sent then); start is -1 when the range
// is unsatisfiable (416).
func byteRange(v string, size int) (start, end int, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if first == "" { // a suffix: the last n bytes
		n, valid := deltaSeconds(last)
		if !valid {
			return 0, 0, false
		}
		if n == 0 {
			return -1, 0, true
		}
		return max(0, size-int(n)), size, true
	}
	f, valid := deltaSeconds(first)
	if !valid {
		return 0, 0, false
	}
	end = size
	if last != "" {
		l, valid := deltaSeconds(last)
		if !valid || l < f {
			return 0, 0, false
		}
		end = min(size, int(l)+1)
	}
	if int(f) >= size {
		return -1, 0, true
	}
	return int(f), end, true
}

// ifRange reports whether a request's If-Range (RFC 9110 section 13.1.5)
// lets its Range apply to a stored response with header h: absent, or an
// entity tag equal to the stored one by strong comparison, or the stored
// Last-Modified exactly.
func ifRange(r *http.Request, h http.Header) bool {
	v := r.Header.Get("If-Range")
	switch {
	case v == "":
		return true
	case strings.HasPrefix(v, `"`):
		return v == h.Get("ETag")
	case strings.HasPrefix(v, "W/"):
		return false
	}
	return v == h.Get("Last-Modified")
}

// passUnsafe forwards a request with an unsafe method; a non-error answer
// invalidates the target URI and the Location and Content-Location URIs on
// the same host (RFC 9111 section 4.4).
func (m *Middleware) passUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	c := m.c
	w.Header().Add("Cache-Status", c.format(cacheStatus{fwd: "method"}, ""))
	rec := capture.New(w, -1)
	next.ServeHTTP(rec, r)
	status, h := rec.Status(), rec.SentHeader()
	if !rec.Wrote() {
		status, h = http.StatusOK, w.Header()
	}
	if status < 200 || status >= 400 {
		return
	}
	host := requestHost(r)
	ks := []string{c.targetOfRequest(r).key}
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, host)) {
			continue
		}
		ks = append(ks, c.targetOf(host, u.EscapedPath(), u.RawQuery).key)
	}
	ctx := context.WithoutCancel(r.Context())
	if err := c.forget(ctx, ks...); err != nil {
		c.report(ctx, fmt.Errorf("httpcache: invalidating after %s: %w", r.Method, err))
	}
}

// changedHeader returns the fields of after that before lacks or holds
// with other values.
func changedHeader(after, before http.Header) http.Header {
	out := make(http.Header, len(after))
	for k, vs := range after {
		if old, ok := before[k]; ok && equalStrings(old, vs) {
			continue
		}
		out[k] = vs
	}
	return out
}

// keepOnly turns h into the header of a 304: the fields the handler set
// are kept only when listed in keep (or are Cache-Status).
func keepOnly(h, before http.Header, keep []string) {
	for k := range changedHeader(h, before) {
		if k == "Cache-Status" || containsString(keep, k) {
			continue
		}
		if old, ok := before[k]; ok {
			h[k] = old
		} else {
			delete(h, k)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// discard is a ResponseWriter that keeps nothing but its header.
type discard struct{ header http.Header }

func newDiscard() *discard                     { return &discard{header: http.Header{}} }
func (d *discard) Header() http.Header         { return d.header }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
