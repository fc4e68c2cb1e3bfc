package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// Serve checks r against the limiter, as the nethttp, ginmw and echomw
// adapters call it:
//
//   - Skip says so: next serves r untouched.
//   - Allowed, let through by Shadow, or let through because Redis failed
//     and the limiter fails open: the RateLimit and RateLimit-Policy
//     headers (IETF draft-ietf-httpapi-ratelimit-headers-10, one list
//     member per limit; none when Redis failed) and, with LegacyHeaders,
//     the X-RateLimit-* headers are set on w, and next serves a request
//     whose context carries the Result (ResultFromContext).
//   - Denied: nothing is written; the returned Rejection is a 429 whose
//     Header holds RateLimit-Policy, RateLimit, Retry-After (unless the
//     cost can never be admitted) and any legacy headers, and whose Detail
//     names the limit.
//   - Redis failed and the limiter fails closed: a 503 Rejection.
//   - Key failed: a 400 Rejection for an error wrapping ErrNoKey, else a
//     500 (so is a Cost below 1).
func (l *Limiter) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	d := l.decide(r)
	switch {
	case d.skipped:
		next.ServeHTTP(w, r)
		return nil
	case d.status != 0:
		return l.rejection(&d)
	}
	if d.res.States != nil {
		l.setHeaders(w.Header(), &d.res)
	}
	next.ServeHTTP(w, r.WithContext(&resultContext{Context: r.Context(), res: d.res}))
	return nil
}

// Reject writes rej, a rejection Serve returned: through Settings.OnReject
// when set, given a request that carries the Result behind rej (when there
// is one: a 429 or 503), else as rej.Write does, an RFC 9457
// application/problem+json body.
func (l *Limiter) Reject(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
	if l.res.OnReject == nil {
		if e, ok := rej.Err.(*denied); ok && e.err == nil && l.writeTooMany(w, rej, e) {
			return
		}
		rej.Write(w)
		return
	}
	if e, ok := rej.Err.(*denied); ok {
		r = r.WithContext(&resultContext{Context: r.Context(), res: e.res})
	}
	l.res.Reject(w, r, rej)
}

// ServeHTTP is Serve, writing any rejection with Reject.
func (l *Limiter) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := l.Serve(w, r, next); rej != nil {
		l.Reject(w, r, rej)
	}
}

// ResultFromContext returns the Result of the innermost limiter that let
// the request of ctx through (allowed it, let it through in shadow mode, or
// failed open), as the handler behind it sees it, and true; or false when
// no limiter did (none is mounted, or Skip let the request through). An
// Settings.OnReject sees the Result of the rejecting limiter in the same
// way.
func ResultFromContext(ctx context.Context) (Result, bool) {
	if c, ok := ctx.Value(resultKey{}).(*resultContext); ok {
		return c.res, true
	}
	return Result{}, false
}

type resultKey struct{}

// resultContext carries a Result in one allocation, where
// context.WithValue would box the Result in a second.
type resultContext struct {
	context.Context
	res Result
}

func (c *resultContext) Value(key any) any {
	if key == (resultKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// decision is what the limiter decided for one request.
type decision struct {
	// status is the rejection's status: 429 (over the limit), 503 (Redis
	// failed and the limiter fails closed), 400 (no key) or 500 (another
	// error). Zero lets the request through.
	status int
	// res is the limiter's answer; zero when skipped, or on a key or cost
	// error.
	res Result
	// err is the error behind a 400, 500 or 503, or the Redis error of a
	// request let through by failing open.
	err error
	// shadow reports a denial that shadow mode let through.
	shadow bool
	// skipped reports that Skip let the request through.
	skipped bool
}

// decide checks r, in a span of its own when the request has one.
func (l *Limiter) decide(r *http.Request) decision {
	t := l.tel.t
	if !trace.SpanContextFromContext(r.Context()).IsValid() || !l.tel.on() {
		// A decision span is a child of the request's span: without one
		// (no tracing upstream), none is made, and the path stays free.
		return l.decideIn(r.Context(), r)
	}
	ctx, span := t.Tracer.Start(r.Context(), "redisware.ratelimit", l.tel.spanStart...)
	d := l.decideIn(ctx, r)
	if !span.IsRecording() {
		span.End()
		return d
	}
	outcome := outcomeNames[outcomeAllowed]
	switch {
	case d.skipped:
		outcome = "skipped"
	case d.shadow:
		outcome = outcomeNames[outcomeShadowDenied]
	case d.status == http.StatusTooManyRequests:
		outcome = outcomeNames[outcomeDenied]
	case d.status == http.StatusServiceUnavailable:
		outcome = outcomeNames[outcomeFailedClosed]
	case d.status != 0:
		outcome = "rejected"
	case d.err != nil:
		outcome = outcomeNames[outcomeFailedOpen]
	}
	span.SetAttributes(telemetry.Outcome.String(outcome), attribute.Bool("redisware.ratelimit.local", d.res.Local))
	if d.res.States != nil {
		span.SetAttributes(attribute.Int("redisware.ratelimit.remaining", d.res.Remaining), attribute.String("redisware.ratelimit.limit", d.res.Limit.Name))
	}
	span.End()
	return d
}

func (l *Limiter) decideIn(ctx context.Context, r *http.Request) decision {
	if l.skip != nil && l.skip(r) {
		return decision{skipped: true}
	}
	var key string
	if l.key != nil {
		k, err := l.key(r)
		if err != nil {
			return l.keyFailed(r, err)
		}
		key = k
	}
	if key == "" {
		k, err := l.ip.Key(r)
		if err != nil {
			return l.keyFailed(r, err)
		}
		key = k
	}
	if l.perRoute {
		key = core.Route(r) + " " + key
	}
	cost := 1
	if l.cost != nil {
		cost = l.cost(r)
	}
	res, err := l.run(ctx, key, cost, true, l.shadow)
	switch {
	case errors.Is(err, ErrInvalidCost):
		return decision{status: http.StatusInternalServerError, err: err}
	case err != nil && l.failClosed && !l.shadow:
		return decision{status: http.StatusServiceUnavailable, res: res, err: err}
	case err != nil:
		return decision{res: res, err: err}
	case res.Allowed:
		return decision{res: res}
	}
	if l.onDeny != nil {
		l.onDeny(r, res, l.shadow)
	}
	if l.shadow {
		l.res.Logger.LogAttrs(r.Context(), slog.LevelDebug, "ratelimit: shadow deny",
			slog.String("policy", l.name), slog.String("limit", res.Limit.Name))
		return decision{res: res, shadow: true}
	}
	return decision{status: http.StatusTooManyRequests, res: res}
}

func (l *Limiter) keyFailed(r *http.Request, err error) decision {
	if errors.Is(err, ErrNoKey) {
		return decision{status: http.StatusBadRequest, err: err}
	}
	l.res.Logger.LogAttrs(r.Context(), slog.LevelError, "ratelimit: key function failed",
		slog.String("policy", l.name), slog.Any("error", err))
	return decision{status: http.StatusInternalServerError, err: err}
}

// setHeaders sets the headers of a request let through on h.
func (l *Limiter) setHeaders(h http.Header, res *Result) {
	// the names are canonical already: Set would canonicalise them again
	h[hdrPolicy] = []string{l.policy}
	h[hdrRateLimit] = []string{l.rateLimitHeader(res.States)}
	if l.legacy {
		h[hdrLegacyLimit] = []string{strconv.Itoa(res.Limit.Rate)}
		h[hdrLegacyRemain] = []string{strconv.Itoa(res.Remaining)}
		h[hdrLegacyResetsIn] = []string{strconv.FormatInt(ceilSeconds(res.ResetAfter), 10)}
	}
}

// denial is a 429 or 503 Rejection with the Result behind it, made in one
// allocation.
type denial struct {
	rej   core.Rejection
	cause denied
}

// denied is the Err of a rejection that has a Result: Reject finds the
// Result there for Settings.OnReject, and what it needs to write a 429
// quickly.
type denied struct {
	res    Result
	policy string
	err    error // the Redis error of a 503; nil for a 429
	limit  int   // a 429's: the index of the limit that denies
	tail   string
	// vals are the values of a 429's header fields: the Rejection's
	// (RateLimit-Policy, RateLimit, Retry-After and the legacy ones), then
	// Content-Type, Content-Length and X-Content-Type-Options.
	vals [9]string
}

func (e *denied) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return "ratelimit: policy " + strconv.Quote(e.policy) + ": limit " + strconv.Quote(e.res.Limit.Name) + " exceeded"
}

func (e *denied) Unwrap() error { return e.err }

// rejection returns the Rejection of d, whose status is not zero.
func (l *Limiter) rejection(d *decision) *core.Rejection {
	switch d.status {
	case http.StatusTooManyRequests:
		return l.tooMany(&d.res)
	case http.StatusServiceUnavailable:
		x := &denial{cause: denied{res: d.res, policy: l.name, err: d.err}}
		x.rej = core.Rejection{Status: d.status, Detail: "The rate limiter is unavailable; try again shortly.", Err: &x.cause}
		return &x.rej
	case http.StatusBadRequest:
		return &core.Rejection{Status: d.status, Detail: strings.TrimPrefix(d.err.Error(), "ratelimit: "), Err: d.err}
	}
	return &core.Rejection{Status: http.StatusInternalServerError, Detail: "The rate limiter failed.", Err: d.err}
}

// Canonical header field names, as the Rejection's Header must hold them.
const (
	hdrPolicy         = "Ratelimit-Policy"
	hdrRateLimit      = "Ratelimit"
	hdrRetryAfter     = "Retry-After"
	hdrLegacyLimit    = "X-Ratelimit-Limit"
	hdrLegacyRemain   = "X-Ratelimit-Remaining"
	hdrLegacyResetsIn = "X-Ratelimit-Reset"
)

// tooMany returns the 429 of a denial. Its detail is l.exceeded of the
// limit that denies followed by a tail.
func (l *Limiter) tooMany(res *Result) *core.Rejection {
	x := &denial{cause: denied{res: *res, policy: l.name, limit: l.limitIndex(res.Limit.Name)}}
	e := &x.cause
	h := make(http.Header, 6)
	set := func(i int, name, v string) {
		e.vals[i] = v
		h[name] = e.vals[i : i+1 : i+1]
	}
	set(0, hdrPolicy, l.policy)
	set(1, hdrRateLimit, l.rateLimitHeader(res.States))
	if res.Never() {
		e.tail = "; this request's cost exceeds the limit and can never be admitted."
	} else {
		secs := strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10)
		if res.RetryAfter > 0 {
			set(2, hdrRetryAfter, secs)
		}
		e.tail = "; retry in " + secs + " s."
	}
	if l.legacy {
		set(3, hdrLegacyLimit, strconv.Itoa(res.Limit.Rate))
		set(4, hdrLegacyRemain, strconv.Itoa(res.Remaining))
		set(5, hdrLegacyResetsIn, strconv.FormatInt(ceilSeconds(res.ResetAfter), 10))
	}
	x.rej = core.Rejection{Status: http.StatusTooManyRequests, Detail: l.exceeded[e.limit] + e.tail, Header: h, Err: e}
	return &x.rej
}

// writeTooMany writes rej, a 429 of tooMany's whose e is its Err, exactly
// as rej.Write would (the fields of its Header, Content-Type,
// Content-Length, X-Content-Type-Options and the RFC 9457 problem body),
// from parts made once in New instead of a JSON encoding per request. It
// reports false, writing nothing, when rej has been changed since.
func (l *Limiter) writeTooMany(w http.ResponseWriter, rej *core.Rejection, e *denied) bool {
	head, lead := l.problemHead[e.limit], l.exceeded[e.limit]
	if rej.Status != http.StatusTooManyRequests || rej.Title != "" || rej.Type != "" || e.err != nil ||
		len(rej.Detail) != len(lead)+len(e.tail) || !strings.HasPrefix(rej.Detail, lead) || !strings.HasSuffix(rej.Detail, e.tail) {
		return false
	}
	body := make([]byte, 0, len(head)+len(e.tail)+2)
	body = append(append(append(body, head...), e.tail...), `"}`...)
	h := w.Header()
	for k, v := range rej.Header {
		// The values live in e, one request's: there is nothing to copy
		// them away from.
		h[k] = v
	}
	e.vals[6], e.vals[7], e.vals[8] = core.ProblemContentType, strconv.Itoa(len(body)), "nosniff"
	h["Content-Type"], h["Content-Length"], h["X-Content-Type-Options"] = e.vals[6:7:7], e.vals[7:8:8], e.vals[8:9:9]
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
	return true
}

// limitIndex returns the index of the limit named name.
func (l *Limiter) limitIndex(name string) int {
	for i := range l.limits {
		if l.limits[i].Name == name {
			return i
		}
	}
	return 0 // unreachable: every Result names one of l.limits
}

// problemHeads returns, for each of exceeded (the starts of 429 details),
// the start of the problem body of its 429s: everything up to the detail's
// tail, encoded as core.Rejection.Write encodes it.
func problemHeads(exceeded []string) []string {
	out := make([]string, len(exceeded))
	for i, d := range exceeded {
		b, _ := json.Marshal(struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}{"about:blank", http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests, d})
		out[i] = strings.TrimSuffix(string(b), `"}`)
	}
	return out
}

func exceededDetails(limits []Limit) []string {
	out := make([]string, len(limits))
	for i, lim := range limits {
		out[i] = "Rate limit " + strconv.Quote(lim.Name) + " of " + strconv.Itoa(lim.Rate) + " per " + lim.Period.String() + " exceeded"
	}
	return out
}

// policyHeader returns the RateLimit-Policy value of limits:
// `"name";q=10;w=60` for each.
func policyHeader(limits []Limit, quoted []string) string {
	var b strings.Builder
	for i, lim := range limits {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoted[i] + ";q=" + strconv.Itoa(lim.Rate) + ";w=" + strconv.FormatInt(ceilSeconds(lim.Period), 10))
	}
	return b.String()
}

// rateLimitHeader returns the RateLimit value of states, which are in the
// order of l's limits: `"name";r=0;t=60` for each, the names serialised
// once, in New.
func (l *Limiter) rateLimitHeader(states []State) string {
	n := 0
	for i := range states {
		n += len(l.quoted[i]) + 30 // `, ;r=;t=` and two numbers
	}
	var b strings.Builder
	b.Grow(n)
	var num [20]byte
	for i := range states {
		st := &states[i]
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.quoted[i])
		b.WriteString(";r=")
		b.Write(strconv.AppendInt(num[:0], int64(st.Remaining), 10))
		b.WriteString(";t=")
		b.Write(strconv.AppendInt(num[:0], ceilSeconds(st.ResetAfter), 10))
	}
	return b.String()
}

// ceilSeconds returns d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
