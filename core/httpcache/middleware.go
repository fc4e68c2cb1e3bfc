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

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/capture"
	"github.com/redisware/redisware/core/internal/telemetry"
)

var _ core.Middleware = (*Cache)(nil)

// ServeHTTP answers r from the cache or through next, writing any
// rejection with Reject. A stale-while-revalidate refresh runs next in a
// goroutine of its own after the stale response was sent.
func (c *Cache) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := c.Serve(w, r, next); rej != nil {
		c.Reject(w, r, rej)
	}
}

// Serve answers r from the cache or through next, and returns a Rejection
// the caller must write (Reject, or the adapter's framework), or nil when
// the request was answered. The only rejection is 504, with its
// Cache-Status field in Rejection.Header, to a request with Cache-Control:
// only-if-cached that nothing stored answers. A stale-while-revalidate
// refresh runs next in a goroutine of its own, after Serve has returned,
// with a copy of r whose context outlives it; ServeWithRefresh chooses
// otherwise.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	return c.ServeWithRefresh(w, r, next, next)
}

// Reject writes rej, a rejection Serve returned: through
// Settings.OnReject when set, else as an RFC 9457 application/problem+json
// body (core.Rejection.Write).
func (c *Cache) Reject(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
	c.set.Reject(w, r, rej)
}

// ServeWithRefresh is Serve with a choice of how a stale response served
// under stale-while-revalidate is refreshed.
//
// background, when not nil, is a handler that may run after
// ServeWithRefresh has returned, in a goroutine of its own, to refresh the
// stale response. When it is nil the refresh runs next after the stale
// response was sent and flushed, before ServeWithRefresh returns (for
// frameworks whose request context must not outlive the request, such as
// Gin).
func (c *Cache) ServeWithRefresh(w http.ResponseWriter, r *http.Request, next, background http.Handler) *core.Rejection {
	t := c.tel.t
	if !t.On || !trace.SpanContextFromContext(r.Context()).IsValid() {
		// A span is made only as a child of the request's span.
		return c.serve(w, r, next, background)
	}
	ctx, span := t.Tracer.Start(r.Context(), "redisware.httpcache", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(telemetry.Policy.String(c.opts.Name)))
	if !span.IsRecording() {
		defer span.End()
		return c.serve(w, r, next, background)
	}
	rej := c.serve(w, r.WithContext(ctx), next, background)
	if st := w.Header().Values("Cache-Status"); len(st) > 0 {
		span.SetAttributes(attribute.String("redisware.cache.status", st[len(st)-1]))
	}
	span.End()
	return rej
}

func (c *Cache) serve(w http.ResponseWriter, r *http.Request, next, background http.Handler) *core.Rejection {
	if c.route.Skip != nil && c.route.Skip(r) {
		c.tel.bypassed(r.Context(), "skip")
		next.ServeHTTP(w, r)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.tel.bypassed(r.Context(), "method")
		c.passUnsafe(w, r, next)
		return nil
	}
	ctx := r.Context()
	rq := parseRequestCC(r.Header)
	t := c.targetOfRequest(r)
	sel := c.selectorOf(r)
	now := c.nowMS()
	// A request that would fill across instances takes the fill lock
	// with its lookup when nothing it could use is stored.
	f, err := c.lookup(ctx, t, sel, now, r.Method == http.MethodGet && !rq.onlyIfCached && c.collapses(r, rq))
	if err != nil {
		c.report(ctx, fmt.Errorf("httpcache: lookup: %w", err))
		c.tel.bypassed(ctx, "redis_unavailable")
		if rq.onlyIfCached {
			return c.gatewayTimeout(w, t)
		}
		sel.varyOnSession(w.Header())
		w.Header().Add("Cache-Status", c.format(cacheStatus{fwd: "bypass", detail: "redis-unavailable"}, t.url))
		next.ServeHTTP(w, r)
		return nil
	}
	if sel.hasSession && f.e != nil && !sessionVaried(f.vary) {
		// Stored by a request outside the session middleware: it may have
		// been built for anyone.
		f.e = nil
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
			c.serveEntry(w, r, sel, e, now, cacheStatus{hit: true, ttl: e.ttl(now), hasTTL: true}, t)
			return nil
		case serveStale:
			c.tel.request(ctx, outcomeStale)
			c.serveEntry(w, r, sel, e, now, cacheStatus{hit: true, ttl: e.ttl(now), hasTTL: true}, t)
			return nil
		case serveAndRefresh:
			c.tel.request(ctx, outcomeStale)
			c.serveEntry(w, r, sel, e, now, cacheStatus{hit: true, ttl: e.ttl(now), hasTTL: true, detail: "stale-while-revalidate"}, t)
			c.refresh(w, r, rq, t, sel, f, e, next, background)
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
		return c.gatewayTimeout(w, t)
	}
	if r.Method == http.MethodHead {
		// A HEAD is answered from a stored GET, never stored itself.
		sel.varyOnSession(w.Header())
		w.Header().Add("Cache-Status", c.format(cacheStatus{fwd: fwd}, t.url))
		next.ServeHTTP(w, r)
		return nil
	}
	c.fill(w, r, rq, t, sel, f, fwd, stale, next)
	return nil
}

// gatewayTimeout is the rejection of an only-if-cached request that
// nothing stored answers. Its Cache-Status holds the members outer caches
// already added to w, then this cache's, since Rejection.SetHeader
// replaces the field.
func (c *Cache) gatewayTimeout(w http.ResponseWriter, t target) *core.Rejection {
	st := append(w.Header().Values("Cache-Status"), c.format(cacheStatus{fwd: "miss", detail: "only-if-cached"}, t.url))
	return &core.Rejection{Status: http.StatusGatewayTimeout,
		Detail: "The request asked for a stored response only (only-if-cached), and none is stored.",
		Header: http.Header{"Cache-Status": st}}
}

// fillResult is what a request that ran the handler shares with the
// requests that waited for it.
type fillResult struct {
	e     *entry // nil: nothing to share (private, a cookie, too large, an error)
	vary  string
	field string
}

// collapses reports whether a GET that misses is one whose response other
// requests may wait for (fill): not when the response could not be shared
// anyway, nor when Options.WaitTimeout says never to wait.
func (c *Cache) collapses(r *http.Request, rq requestCC) bool {
	return !rq.noStore && r.Header.Get("Authorization") == "" && c.opts.WaitTimeout >= 0
}

// fill answers a GET that the cache cannot answer: one request per key
// runs the handler, across instances, and the others get its response
// when it may be shared. f is what the request's lookup found, with the
// fill lock when it took it.
func (c *Cache) fill(w http.ResponseWriter, r *http.Request, rq requestCC, t target, sel selector, f found, fwd string, stale *entry, next http.Handler) {
	ctx := r.Context()
	// Requests whose response could not be shared anyway run on their own.
	if !c.collapses(r, rq) {
		c.run(w, r, rq, t, sel, f, fwd, stale, next, nil)
		return
	}
	field := f.field
	if !f.exists {
		// the variant is not known yet: the scheme and the session
		// still tell requests apart that would not share a response
		field = "?" + sel.base() + sel.session
	}
	fkey := t.key + "\x00" + field
	fl, leader := c.flights.join(fkey)
	if !leader {
		// This instance's leader fills; a lock this request's lookup
		// took is for it to take.
		c.unlock(ctx, f.lock)
		if res, _ := fl.wait(ctx, c.opts.WaitTimeout).(*fillResult); res != nil && c.shareable(res, sel, rq) {
			now := c.nowMS()
			c.serveEntry(w, r, sel, res.e, now, cacheStatus{fwd: fwd, collapsed: true, ttl: res.e.ttl(now), hasTTL: true}, t)
			return
		}
		c.run(w, r, rq, t, sel, f, fwd, stale, next, nil)
		return
	}
	var res *fillResult
	defer func() { c.flights.finish(fkey, fl, res) }()
	lock := f.lock
	if lock == nil {
		var polled found
		var ready bool
		lock, polled, ready = c.leadFill(ctx, t, sel, rq, f, field, stale)
		if ready {
			now := c.nowMS()
			res = &fillResult{e: polled.e, vary: polled.vary, field: polled.field}
			c.serveEntry(w, r, sel, polled.e, now, cacheStatus{fwd: fwd, collapsed: true, ttl: polled.e.ttl(now), hasTTL: true}, t)
			return
		}
	}
	defer c.unlock(ctx, lock) // unless the store released it
	res = c.run(w, r, rq, t, sel, f, fwd, stale, next, lock)
}

// leadFill makes this request the one that fills field of t across
// instances, starting from f, what its lookup found (without the lock).
// While another instance holds the lock, it polls, with the lookup that
// takes the lock when the variant is missing, for the response that
// instance stores, until it appears (ready), the lock is taken, or
// WaitTimeout passes. When a stored response the request cannot use is
// there (stale, say), it takes the lock with a command of its own, then
// looks once more, as a previous holder may have stored since. lock is
// nil when no lock is held: the response appeared, the wait ran out, or
// Redis failed (the caller then runs without the lock: a cache failure
// never stops a request).
func (c *Cache) leadFill(ctx context.Context, t target, sel selector, rq requestCC, f found, field string, stale *entry) (lock *fillLock, polled found, ready bool) {
	usable := func(p found) bool {
		now := c.nowMS()
		return p.e != nil && p.e.ttl(now) > 0 && (stale == nil || p.e.stored != stale.stored) &&
			judge(p.e, rq, now) == serveFresh && (!sel.hasSession || sessionVaried(p.vary))
	}
	wait := c.poller()
	for {
		switch {
		case usable(f):
			c.unlock(ctx, f.lock)
			return nil, f, true
		case f.lockState == lockMine:
			return f.lock, found{}, false
		case f.lockState == lockFailed:
			return nil, found{}, false
		case f.lockState == lockNone:
			l, err := c.obtain(ctx, c.lockKey(t, field))
			if err == nil {
				if p, err := c.lookup(ctx, t, sel, c.nowMS(), false); err == nil && usable(p) {
					c.unlock(ctx, l)
					return nil, p, true
				}
				return l, found{}, false
			}
			if !errors.Is(err, errLocked) {
				c.report(ctx, err)
				return nil, found{}, false
			}
		}
		// another holds the lock
		if !wait.sleep(ctx) {
			return nil, found{}, false
		}
		var err error
		if f, err = c.lookup(ctx, t, sel, c.nowMS(), true); err != nil {
			c.report(ctx, fmt.Errorf("httpcache: lookup: %w", err))
			return nil, found{}, false
		}
	}
}

// shareable reports whether the response res another request produced
// may answer a request with selector sel and directives rq: it was stored
// (so neither private nor setting a cookie), it is the variant sel
// selects, and rq accepts it.
func (c *Cache) shareable(res *fillResult, sel selector, rq requestCC) bool {
	if res.e == nil || variantField(res.vary, sel) != res.field || sel.hasSession && !sessionVaried(res.vary) {
		return false
	}
	now := c.nowMS()
	v := judge(res.e, rq, now)
	return v == serveFresh || v == serveStale || (v == forwardRequest && rq.noCache)
}

// refresh renews a stale response served under stale-while-revalidate,
// once across instances.
func (c *Cache) refresh(w http.ResponseWriter, r *http.Request, rq requestCC, t target, sel selector, f found, stale *entry, next, background http.Handler) {
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
		lock, err := c.obtain(r.Context(), c.lockKey(t, "refresh\x00"+f.field))
		if err != nil {
			return // another instance refreshes it, or Redis is away
		}
		defer c.unlock(r.Context(), lock)
		c.run(newDiscard(), r, rq, t, sel, f, "stale", stale, h, lock)
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
//
// f is what the lookup before found: its generation guards the store (see
// store.lua), its Vary names selected stale. lock is the fill lock the
// request holds (nil: none), which the store releases.
func (c *Cache) run(w http.ResponseWriter, r *http.Request, rq requestCC, t target, sel selector, f found, fwd string, stale *entry, next http.Handler, lock *fillLock) *fillResult {
	fw := &fillWriter{c: c, w: w, r: r, rq: rq, t: t, sel: sel, f: f, lock: lock, fwd: fwd, before: w.Header().Clone(), reqTime: c.nowMS()}
	if canFallBack(stale, fw.reqTime) {
		fw.fallback = stale
	}
	fr := r
	if c.route.SurrogateControl {
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
			c.serveEntry(w, r, sel, fw.fallback, c.nowMS(), cacheStatus{fwd: fwd, ttl: fw.fallback.ttl(c.nowMS()), hasTTL: true, detail: "stale-if-error"}, t)
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
	c       *Cache
	w       http.ResponseWriter
	r       *http.Request
	rq      requestCC
	t       target
	sel     selector
	f       found     // what the lookup before the request found
	lock    *fillLock // the fill lock the request holds, nil for none
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
	// atSend is the header as it was when the status went on: fields
	// that outer writers add then (a session's Set-Cookie and Vary) are
	// in the header map afterwards, and count.
	atSend http.Header
	// sessionCookie: the cache added Vary: Cookie for the session; in the
	// Vary names it stands for sessionName.
	sessionCookie bool
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
	c := fw.c
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
	fw.tags = c.takeTags(fw.r, h)
	fw.sessionCookie = fw.sel.varyOnSession(h)
	now := c.nowMS()
	plan, _ := c.plan(fw.r, fw.rq, status, h, fw.reqTime, now)
	if c.route.SurrogateControl {
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
		fw.atSend = h.Clone()
		fw.w.WriteHeader(http.StatusNotModified)
		return
	}
	fw.mode = modePass
	fw.rec = capture.New(fw.w, limit)
	fw.rec.WriteHeader(status)
	fw.atSend = fw.rec.SentHeader()
}

// storable returns the Vary names to store a response under, once it was
// sent, and whether it may be stored at all, counting the fields outer
// middleware added to the header as the response started (a session's
// Set-Cookie and Vary): the plan made before could not see them. A
// response that sets a cookie (unless Route.AllowSetCookie) or is private
// or no-store is not stored; an outer Vary joins the names; under the
// session middleware the names select on the session, not on every
// cookie.
func (fw *fillWriter) storable() (vary string, ok bool) {
	live := fw.w.Header()
	if !containsString(live.Values("Cache-Status"), fw.ownStatus) {
		// An outer writer replaced the response as it started (the
		// session middleware's 503 when the session cannot be saved):
		// what the handler wrote never reached the client.
		return "", false
	}
	late := changedHeader(live, fw.atSend)
	if len(late["Set-Cookie"]) > 0 && !fw.c.route.AllowSetCookie {
		return "", false
	}
	if cc, changed := late["Cache-Control"]; changed {
		if private, noStore := privacyNamed(cc); private || noStore {
			return "", false
		}
	}
	vary = varyNames(live)
	if vary == "*" {
		return "", false
	}
	if fw.sessionCookie {
		vary = withoutName(vary, "cookie") // it stands for the session
	}
	if fw.sel.hasSession {
		vary = withName(vary, sessionName)
	}
	return vary, true
}

// finish ends a forwarded request once its handler returned: it answers
// held responses, and stores what may be stored.
func (fw *fillWriter) finish() *fillResult {
	c := fw.c
	if fw.mode == modeUndecided {
		fw.WriteHeader(http.StatusOK) // the handler wrote nothing: an empty 200
	}
	ctx := context.WithoutCancel(fw.r.Context())
	now := c.nowMS()
	switch fw.mode {
	case modeHold304:
		fw.restoreHeader()
		e := c.freshen(fw.r, fw.rq, fw.revalidating, fw.held, fw.reqTime, now)
		if e == nil {
			// still valid, but the 304 forbids storing it any longer
			c.serveEntry(fw.w, fw.r, fw.sel, fw.revalidating, now, cacheStatus{fwd: fw.fwd, fwdStatus: http.StatusNotModified}, fw.t)
			return nil
		}
		// The renewed response keeps the stale one's Vary names (the
		// request's own, outer fields and session included) unless the 304
		// names others.
		vary := fw.f.vary
		if len(fw.held.Values("Vary")) > 0 {
			vary = varyNames(e.header)
			if fw.sel.hasSession {
				if !hasName(fw.f.vary, "cookie") {
					vary = withoutName(vary, "cookie")
				}
				vary = withName(vary, sessionName)
			}
		}
		field := variantField(vary, fw.sel)
		st := cacheStatus{fwd: fw.fwd, fwdStatus: http.StatusNotModified, ttl: e.ttl(now), hasTTL: true}
		st.stored = vary != "*" && c.store(ctx, fw.t, vary, field, e, fw.f, fw.lock)
		c.serveEntry(fw.w, fw.r, fw.sel, e, now, st, fw.t)
		return &fillResult{e: e, vary: vary, field: field}
	case modeHoldError:
		fw.restoreHeader()
		e := fw.fallback
		c.serveEntry(fw.w, fw.r, fw.sel, e, now, cacheStatus{fwd: fw.fwd, fwdStatus: fw.status, ttl: e.ttl(now), hasTTL: true, detail: "stale-if-error"}, fw.t)
		return &fillResult{e: e, vary: fw.f.vary, field: fw.f.field}
	}
	e := fw.plan
	if e == nil || !fw.rec.Complete() || fw.hijacked {
		return nil
	}
	vary, ok := fw.storable()
	if !ok {
		return nil
	}
	e.header = storedHeader(fw.rec.SentHeader(), fw.before, fw.ownStatus, c.route.AllowSetCookie)
	e.body = fw.rec.Body()
	if len(e.body) > 0 {
		e.body = append([]byte(nil), e.body...)
	}
	e.tags = fw.tags
	if c.route.ETag && e.status == http.StatusOK && e.header.Get("ETag") == "" {
		sum := sha256.Sum256(e.body)
		e.header.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:18])+`"`)
	}
	field := variantField(vary, fw.sel)
	if !c.store(ctx, fw.t, vary, field, e, fw.f, fw.lock) {
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

// store stores e, the response to a request whose lookup found f, unless
// the URL was invalidated since (see mayStore and store.lua), reporting a
// failure, and releases lock (nil: none) in the same round trip; it
// returns whether it stored.
func (c *Cache) store(ctx context.Context, t target, vary, field string, e *entry, f found, lock *fillLock) bool {
	if !c.mayStore(f) {
		return false
	}
	stored, err := c.storeEntry(ctx, t, vary, field, e, f.gen, lock)
	if err != nil {
		c.report(ctx, fmt.Errorf("httpcache: storing a response: %w", err))
	}
	return stored
}

// takeTags returns the tags of a response (its tag header fields, which
// it removes, and Route.Tags), at most DefaultMaxTags.
func (c *Cache) takeTags(r *http.Request, h http.Header) []string {
	var tags []string
	for _, name := range c.route.TagHeaders {
		for _, v := range h.Values(name) {
			tags = append(tags, strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })...)
		}
		h.Del(name)
	}
	if c.route.Tags != nil {
		tags = append(tags, c.route.Tags(r)...)
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
func (c *Cache) serveEntry(w http.ResponseWriter, r *http.Request, sel selector, e *entry, now int64, st cacheStatus, t target) {
	h := w.Header()
	if notModified(r, e.status, e.header) {
		for _, k := range notModifiedFields {
			if vs, ok := e.header[k]; ok {
				h[k] = append([]string(nil), vs...)
			}
		}
		sel.varyOnSession(h)
		h.Set("Age", strconv.FormatInt(durationSeconds(e.age(now)), 10))
		h.Add("Cache-Status", c.format(st, t.url))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, vs := range e.header.Clone() {
		h[k] = vs
	}
	sel.varyOnSession(h)
	h.Set("Age", strconv.FormatInt(durationSeconds(e.age(now)), 10))
	h.Add("Cache-Status", c.format(st, t.url))
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
func (c *Cache) passUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
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
