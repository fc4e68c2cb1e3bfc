package ratelimit

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/settings"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// Outcomes of a decision, as the redisware.ratelimit.decisions metric and
// the decision span name them.
const (
	outcomeAllowed      = "allowed"
	outcomeDenied       = "denied"
	outcomeShadowDenied = "shadow_denied"
	outcomeFailedOpen   = "failed_open"
	outcomeFailedClosed = "failed_closed"
)

// instruments are a Limiter's metrics, with their attribute sets built once.
type instruments struct {
	t         *telemetry.T
	decisions metric.Int64Counter
	local     metric.Int64Counter
	outcomes  map[string]metric.MeasurementOption
	localOpt  metric.MeasurementOption
	allow     *telemetry.RedisOp
	peek      *telemetry.RedisOp
	reset     *telemetry.RedisOp
	policy    attribute.KeyValue
	spanStart []trace.SpanStartOption
}

func newInstruments(name string, res *settings.Resolved) *instruments {
	t := telemetry.New("ratelimit", res.MeterProvider, res.TracerProvider)
	in := &instruments{t: t, policy: telemetry.Policy.String(name), outcomes: map[string]metric.MeasurementOption{}}
	in.decisions = t.Counter("redisware.ratelimit.decisions", "{decision}",
		"Rate-limit decisions, by policy and outcome (allowed, denied, shadow_denied, failed_open, failed_closed).")
	in.local = t.Counter("redisware.ratelimit.deny_cache.hits", "{decision}",
		"Denials answered by the local deny cache without a Redis call, by policy.")
	for _, o := range []string{outcomeAllowed, outcomeDenied, outcomeShadowDenied, outcomeFailedOpen, outcomeFailedClosed} {
		in.outcomes[o] = t.Attrs(in.policy, telemetry.Outcome.String(o))
	}
	in.localOpt = t.Attrs(in.policy)
	in.allow, in.peek, in.reset = t.RedisOp("allow"), t.RedisOp("peek"), t.RedisOp("reset")
	in.spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(in.policy)}
	return in
}
