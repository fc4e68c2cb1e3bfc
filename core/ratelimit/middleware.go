package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/problem"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// MiddlewareOptions configures the HTTP side of a limiter. Every field is
// optional.
type MiddlewareOptions struct {
	// Key names the client a request counts against. Zero means the
	// client address with no trusted proxies and IPv6 grouped by /64
	// (KeyByIP with zero options).
	Key KeyFunc
	// PerRoute prefixes the key with the route pattern (net/http's
	// Request.Pattern, Gin's FullPath, Echo's Path), so one middleware
	// mounted on a group keeps a separate budget per route.
	PerRoute bool
	// Cost returns the units a request consumes. Zero means 1 for every
	// request. A cost below 1 is a server error (500).
	Cost func(r *http.Request) int
	// Skip, when it returns true, lets the request through untouched:
	// no Redis call, no headers. Use it for health checks and allow-listed
	// clients.
	Skip func(r *http.Request) bool
	// Shadow computes decisions, reports denials and sets the RateLimit
	// headers, but never denies: a safe way to try a new limit in
	// production.
	Shadow bool
	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (seconds from now) for clients that predate the
	// RateLimit headers.
	LegacyHeaders bool
	// OnDenied, when set, writes the response to a denied request in place
	// of the default 429 application/problem+json body. The RateLimit and
	// Retry-After headers are already set on w.
	OnDenied func(w http.ResponseWriter, r *http.Request, res Result)
	// OnDeny, when set, is told of every denial, real or (shadow true) in
	// shadow mode, and of local deny-cache answers.
	OnDeny func(r *http.Request, res Result, shadow bool)
}

// Middleware is the framework-neutral HTTP face of a Limiter: it decides,
// and the nethttp, ginmw and echomw adapters apply the decision in their
// framework's idiom. It is safe for concurrent use.
type Middleware struct {
	limiter *Limiter
	opts    MiddlewareOptions
	policy  string // the RateLimit-Policy header value, fixed per limiter
}

// NewMiddleware returns the middleware for l.
func NewMiddleware(l *Limiter, opts MiddlewareOptions) (*Middleware, error) {
	if l == nil {
		return nil, errors.New("ratelimit: nil Limiter")
	}
	if opts.Key == nil {
		k, err := KeyByIP(ClientIPOptions{})
		if err != nil {
			return nil, err
		}
		opts.Key = k
	}
	var b strings.Builder
	for i, lim := range l.limits {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + lim.Name + `";q=` + strconv.Itoa(lim.Rate) + ";w=" + strconv.FormatInt(ceilSeconds(lim.Period), 10))
	}
	return &Middleware{limiter: l, opts: opts, policy: b.String()}, nil
}

// Limiter returns the limiter behind m.
func (m *Middleware) Limiter() *Limiter { return m.limiter }

// Decision is what the middleware decided for one request.
type Decision struct {
	// Allow reports whether the request proceeds to the handler.
	Allow bool
	// Status is the response status when Allow is false: 429 (over the
	// limit), 503 (Redis failed and the limiter fails closed), 400 (the
	// key function found no key) or 500 (another error). Zero when Allow.
	Status int
	// Result is the limiter's answer; zero when Skipped or on error.
	Result Result
	// Err is the error behind a 400, 500 or 503, or the Redis error of a
	// request let through by failing open.
	Err error
	// Shadow reports a denial that shadow mode let through.
	Shadow bool
	// Skipped reports that the Skip function let the request through.
	Skipped bool
}

// Decide checks r against the limiter. route is the framework's route
// pattern, used when PerRoute is set (the adapters pass it).
func (m *Middleware) Decide(r *http.Request, route string) Decision {
	t := m.limiter.tel.t
	if !t.On || !trace.SpanContextFromContext(r.Context()).IsValid() {
		// A decision span is a child of the request's span: without one
		// (no tracing upstream), none is made, and the path stays free.
		return m.decide(r.Context(), r, route)
	}
	ctx, span := t.Tracer.Start(r.Context(), "redisware.ratelimit", m.limiter.tel.spanStart...)
	d := m.decide(ctx, r, route)
	if !span.IsRecording() {
		span.End()
		return d
	}
	outcome := outcomeAllowed
	switch {
	case d.Skipped:
		outcome = "skipped"
	case d.Shadow:
		outcome = outcomeShadowDenied
	case d.Status == http.StatusTooManyRequests:
		outcome = outcomeDenied
	case d.Status == http.StatusServiceUnavailable:
		outcome = outcomeFailedClosed
	case d.Status != 0:
		outcome = "rejected"
	case d.Err != nil:
		outcome = outcomeFailedOpen
	}
	span.SetAttributes(telemetry.Outcome.String(outcome), attribute.Bool("redisware.ratelimit.local", d.Result.Local))
	if d.Result.States != nil {
		span.SetAttributes(attribute.Int("redisware.ratelimit.remaining", d.Result.Remaining), attribute.String("redisware.ratelimit.limit", d.Result.Limit.Name))
	}
	span.End()
	return d
}

func (m *Middleware) decide(ctx context.Context, r *http.Request, route string) Decision {
	if m.opts.Skip != nil && m.opts.Skip(r) {
		return Decision{Allow: true, Skipped: true}
	}
	key, err := m.opts.Key(r)
	if err != nil {
		if errors.Is(err, ErrNoKey) {
			return Decision{Status: http.StatusBadRequest, Err: err}
		}
		m.limiter.logger.LogAttrs(r.Context(), slog.LevelError, "ratelimit: key function failed",
			slog.String("policy", m.limiter.name), slog.Any("error", err))
		return Decision{Status: http.StatusInternalServerError, Err: err}
	}
	if m.opts.PerRoute {
		if route == "" {
			route = r.URL.Path
		}
		key = route + " " + key
	}
	cost := 1
	if m.opts.Cost != nil {
		cost = m.opts.Cost(r)
	}
	res, err := m.limiter.run(ctx, key, cost, true, m.opts.Shadow)
	switch {
	case errors.Is(err, ErrInvalidCost):
		return Decision{Status: http.StatusInternalServerError, Err: err}
	case err != nil && m.limiter.failClosed && !m.opts.Shadow:
		return Decision{Status: http.StatusServiceUnavailable, Result: res, Err: err}
	case err != nil:
		return Decision{Allow: true, Result: res, Err: err}
	case res.Allowed:
		return Decision{Allow: true, Result: res}
	}
	if m.opts.OnDeny != nil {
		m.opts.OnDeny(r, res, m.opts.Shadow)
	}
	if m.opts.Shadow {
		m.limiter.logger.LogAttrs(r.Context(), slog.LevelDebug, "ratelimit: shadow deny",
			slog.String("policy", m.limiter.name), slog.String("limit", res.Limit.Name))
		return Decision{Allow: true, Result: res, Shadow: true}
	}
	return Decision{Status: http.StatusTooManyRequests, Result: res}
}

// SetHeaders writes the headers d calls for onto h: RateLimit-Policy and
// RateLimit (IETF draft-ietf-httpapi-ratelimit-headers-10, one list member
// per limit), Retry-After on a 429 that waiting can cure, and the legacy
// X-RateLimit-* headers when enabled. A skipped request, or one let through
// because Redis failed, gets none.
func (m *Middleware) SetHeaders(h http.Header, d Decision) {
	if d.Skipped || d.Result.States == nil {
		return
	}
	h.Set("RateLimit-Policy", m.policy)
	var b strings.Builder
	for i, st := range d.Result.States {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"`)
		b.WriteString(st.Limit.Name)
		b.WriteString(`";r=`)
		b.WriteString(strconv.Itoa(st.Remaining))
		b.WriteString(";t=")
		b.WriteString(strconv.FormatInt(ceilSeconds(st.ResetAfter), 10))
	}
	h.Set("RateLimit", b.String())
	if d.Status == http.StatusTooManyRequests && d.Result.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d.Result.RetryAfter), 1), 10))
	}
	if m.opts.LegacyHeaders {
		h.Set("X-RateLimit-Limit", strconv.Itoa(d.Result.Limit.Rate))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Result.Remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Result.ResetAfter), 10))
	}
}

// CustomRejection reports whether OnDenied replaces the default 429 body.
func (m *Middleware) CustomRejection() bool { return m.opts.OnDenied != nil }

// Problem returns the application/problem+json body of a rejection.
func (m *Middleware) Problem(d Decision) []byte {
	return m.problem(d).Body()
}

func (m *Middleware) problem(d Decision) problem.Details {
	switch d.Status {
	case http.StatusTooManyRequests:
		res := d.Result
		detail := "Rate limit " + strconv.Quote(res.Limit.Name) + " of " + strconv.Itoa(res.Limit.Rate) +
			" per " + res.Limit.Period.String() + " exceeded"
		if res.Never() {
			detail += "; this request's cost exceeds the limit and can never be admitted"
		} else {
			detail += "; retry in " + strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10) + " s"
		}
		return problem.New(d.Status, detail+".")
	case http.StatusServiceUnavailable:
		return problem.New(d.Status, "The rate limiter is unavailable; try again shortly.")
	case http.StatusBadRequest:
		return problem.New(d.Status, strings.TrimPrefix(d.Err.Error(), "ratelimit: "))
	}
	return problem.New(http.StatusInternalServerError, "The rate limiter failed.")
}

// Reject writes the response to a request d does not allow: the headers,
// then OnDenied's response for a 429 when set, else a problem+json body.
func (m *Middleware) Reject(w http.ResponseWriter, r *http.Request, d Decision) {
	m.SetHeaders(w.Header(), d)
	if d.Status == http.StatusTooManyRequests && m.opts.OnDenied != nil {
		m.opts.OnDenied(w, r, d.Result)
		return
	}
	problem.Write(w, m.problem(d))
}

// ceilSeconds returns d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
