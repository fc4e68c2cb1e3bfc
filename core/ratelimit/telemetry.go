package ratelimit

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/settings"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// Outcomes of a decision, as the redisware.ratelimit.decisions metric and
// the decision span name them, in the order of instruments.decided.
const (
	outcomeAllowed = iota
	outcomeDenied
	outcomeShadowDenied
	outcomeFailedOpen
	outcomeFailedClosed
	outcomes
)

var outcomeNames = [outcomes]string{"allowed", "denied", "shadow_denied", "failed_open", "failed_closed"}

// instruments are a Limiter's metrics, with their attribute sets built once.
type instruments struct {
	t         *telemetry.T
	counts    *policyCounts
	allow     *telemetry.RedisOp
	peek      *telemetry.RedisOp
	reset     *telemetry.RedisOp
	policy    attribute.KeyValue
	spanStart []trace.SpanStartOption
	// lazy is set when the providers are OpenTelemetry's global ones and
	// no SDK has been installed yet: their instruments record nothing
	// until one is (from then on they forward to it), so on skips the
	// calls while the globals are still the ones New saw.
	lazy bool
	mp0  metric.MeterProvider
	tp0  trace.TracerProvider
}

// policyCounts are the counters a decision moves, of one policy on one
// meter: redisware.ratelimit.decisions by outcome and
// redisware.ratelimit.deny_cache.hits. They are observable counters: a
// decision adds one to an atomic count, and the SDK reads the counts when
// it collects (a synchronous counter costs each decision a call into the
// SDK, a measurable share of a request on a flooded route). Like the series
// an SDK keeps for a synchronous counter, they live as long as the process,
// and every limiter of the policy adds to them.
type policyCounts struct {
	decided [outcomes]count
	local   count
}

// count is a counter on a cache line of its own, so that decisions on
// different cores do not slow each other down.
type count struct {
	atomic.Int64
	_ [56]byte
}

type countsKey struct {
	meter  metric.Meter
	policy string
}

// countsByMeter holds the policyCounts of each meter and policy.
var countsByMeter sync.Map // countsKey → *policyCounts

// countsOf returns the counts of the policy name on t's meter, registering
// their callback the first time.
func countsOf(t *telemetry.T, name string, policy attribute.KeyValue) *policyCounts {
	var k countsKey
	shared := reflect.TypeOf(t.Meter).Comparable()
	if shared {
		k = countsKey{t.Meter, name}
		if c, ok := countsByMeter.Load(k); ok {
			return c.(*policyCounts)
		}
	}
	c := &policyCounts{}
	if shared {
		if actual, loaded := countsByMeter.LoadOrStore(k, c); loaded {
			return actual.(*policyCounts)
		}
	}
	decisions, _ := t.Meter.Int64ObservableCounter("redisware.ratelimit.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Rate-limit decisions, by policy and outcome (allowed, denied, shadow_denied, failed_open, failed_closed)."))
	local, _ := t.Meter.Int64ObservableCounter("redisware.ratelimit.deny_cache.hits", metric.WithUnit("{decision}"),
		metric.WithDescription("Denials answered by the local deny cache without a Redis call, by policy."))
	var byOutcome [outcomes]metric.MeasurementOption
	for o, name := range outcomeNames {
		byOutcome[o] = t.Attrs(policy, telemetry.Outcome.String(name))
	}
	localOpt := t.Attrs(policy)
	// A series appears once it counts something, as a synchronous
	// counter's does.
	_, _ = t.Meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for i := range c.decided {
			if n := c.decided[i].Load(); n > 0 {
				o.ObserveInt64(decisions, n, byOutcome[i])
			}
		}
		if n := c.local.Load(); n > 0 {
			o.ObserveInt64(local, n, localOpt)
		}
		return nil
	}, decisions, local)
	return c
}

// on reports whether a decision is measured at all: the providers are not
// the no-op ones, and, when they are the global ones, an SDK has been
// installed since.
func (in *instruments) on() bool {
	if !in.t.On {
		return false
	}
	return !in.lazy || otel.GetMeterProvider() != in.mp0 || otel.GetTracerProvider() != in.tp0
}

// unset reports whether mp and tp are still OpenTelemetry's global
// placeholders, which forward to an SDK only once one is installed.
func unset(mp metric.MeterProvider, tp trace.TracerProvider) bool {
	return fmt.Sprintf("%T %T", mp, tp) == "*global.meterProvider *global.tracerProvider"
}

// newInstruments returns the instruments of the policy name.
func newInstruments(name string, res *settings.Resolved) *instruments {
	t := telemetry.New("ratelimit", res.MeterProvider, res.TracerProvider)
	in := &instruments{t: t, policy: telemetry.Policy.String(name)}
	in.counts = countsOf(t, name, in.policy)
	in.allow, in.peek, in.reset = t.RedisOp("allow"), t.RedisOp("peek"), t.RedisOp("reset")
	in.spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(in.policy)}
	if res.MeterProvider == nil && res.TracerProvider == nil {
		in.mp0, in.tp0 = otel.GetMeterProvider(), otel.GetTracerProvider()
		in.lazy = unset(in.mp0, in.tp0)
	}
	return in
}
