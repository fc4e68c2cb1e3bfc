package ratelimit

import (
	"net/http"
	"sort"
	"strings"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/settings"
)

// PlansOptions configures Plans: which limiter applies to a request.
type PlansOptions struct {
	// Choose returns the plan of a request, a key of Limiters: by the
	// customer's plan ("free", "pro"), by route group, by anything the
	// request carries. Required. The adapters turn a hook written for
	// their framework into this form (ginmw.Choose, echomw.Choose).
	Choose func(r *http.Request) string
	// Limiters holds one limiter per plan. At least one is required; each
	// must have a Name of its own (limiters with one name share their
	// counts, so two plans under one name would share a budget).
	Limiters map[string]*Limiter
	// Default is the plan of a request whose Choose answers "" or a plan
	// Limiters does not hold. Zero means such a request is a server error
	// (500), which is what a plan table with a hole in it should be.
	Default string
}

// Plans is one middleware that applies, per request, the limiter of the
// request's plan: each plan's limits are checked in one atomic call as any
// limiter's are, the RateLimit-Policy header names the plan's policy, and
// each plan's deny cache stays exact, since each limiter keeps its own.
// It implements core.Middleware; mount it with the adapters' Mount (or
// RateLimitPlans). It is safe for concurrent use.
type Plans struct {
	choose   func(*http.Request) string
	limiters map[string]*Limiter
	fallback *Limiter
}

var _ core.Middleware = (*Plans)(nil)

// NewPlans returns the Plans of opts, validated: an option that cannot work
// is an error naming it and wrapping core.ErrConfig.
func NewPlans(opts PlansOptions) (*Plans, error) {
	invalid := func(field, format string, args ...any) error {
		return settings.Invalid("ratelimit: plans", field, format, args...)
	}
	switch {
	case opts.Choose == nil:
		return nil, invalid("Choose", "is required")
	case len(opts.Limiters) == 0:
		return nil, invalid("Limiters", "is empty; give one limiter per plan")
	}
	p := &Plans{choose: opts.Choose, limiters: make(map[string]*Limiter, len(opts.Limiters))}
	names := make(map[string]string, len(opts.Limiters))
	plans := make([]string, 0, len(opts.Limiters))
	for plan := range opts.Limiters {
		plans = append(plans, plan)
	}
	sort.Strings(plans) // errors name the same plan every time
	for _, plan := range plans {
		l := opts.Limiters[plan]
		switch {
		case plan == "":
			return nil, invalid("Limiters", `has a plan named ""; Choose answers "" for the Default plan`)
		case l == nil:
			return nil, invalid("Limiters["+`"`+plan+`"]`, "is nil")
		}
		if other, ok := names[l.name]; ok {
			return nil, invalid("Limiters["+`"`+plan+`"]`, "has the policy name %q of plan %q: two plans would share one budget; give each limiter a Name of its own", l.name, other)
		}
		names[l.name] = plan
		p.limiters[plan] = l
	}
	if opts.Default != "" {
		if p.fallback = p.limiters[opts.Default]; p.fallback == nil {
			return nil, invalid("Default", "%q is not a plan of Limiters (%s)", opts.Default, strings.Join(plans, ", "))
		}
	}
	return p, nil
}

// limiter returns the limiter of r's plan, or nil.
func (p *Plans) limiter(r *http.Request) *Limiter {
	if l := p.limiters[p.choose(r)]; l != nil {
		return l
	}
	return p.fallback
}

// Serve applies the limiter of r's plan, as Limiter.Serve does. A request
// whose plan has no limiter (and no Default) is rejected with 500.
func (p *Plans) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	l := p.limiter(r)
	if l == nil {
		return &core.Rejection{Status: http.StatusInternalServerError, Detail: "The rate limiter has no plan for this request."}
	}
	return l.Serve(w, r, next)
}

// Reject writes rej through the Settings.OnReject of r's plan's limiter,
// else as rej.Write does.
func (p *Plans) Reject(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
	if l := p.limiter(r); l != nil {
		l.Reject(w, r, rej)
		return
	}
	rej.Write(w)
}

// ServeHTTP is Serve, writing any rejection with Reject.
func (p *Plans) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := p.Serve(w, r, next); rej != nil {
		p.Reject(w, r, rej)
	}
}
