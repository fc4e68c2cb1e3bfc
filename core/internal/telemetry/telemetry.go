// Package telemetry is how every redisware core reports through the
// OpenTelemetry API: a Meter and a Tracer per core, the shared Redis
// latency histogram, and attribute sets built once so a measurement costs
// no allocation. With no SDK installed the global providers are no-ops;
// passing the no-op providers of go.opentelemetry.io/otel/metric/noop and
// trace/noop switches instrumentation off entirely.
package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of every meter and tracer.
const ScopeName = "github.com/redisware/redisware"

// Attribute keys shared by the cores. Client keys, session IDs and
// idempotency keys are never attributes.
const (
	// Component is the core: ratelimit, httpcache, session, idempotency, lock.
	Component = attribute.Key("redisware.component")
	// Operation is the Redis operation of a latency measurement.
	Operation = attribute.Key("redisware.operation")
	// Outcome is what a decision or an operation came to.
	Outcome = attribute.Key("redisware.outcome")
	// Policy names a rate-limit policy, a cache, a guard: configuration,
	// never client input.
	Policy = attribute.Key("redisware.policy")
)

// T holds one core's instruments.
type T struct {
	// On is false when both providers are the no-op ones: callers skip
	// their instrumentation entirely.
	On        bool
	Meter     metric.Meter
	Tracer    trace.Tracer
	component string
	redis     metric.Float64Histogram
}

// New returns the instruments of component. Nil providers mean the global
// ones (otel.GetMeterProvider, otel.GetTracerProvider).
func New(component string, mp metric.MeterProvider, tp trace.TracerProvider) *T {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	_, mOff := mp.(metricnoop.MeterProvider)
	_, tOff := tp.(tracenoop.TracerProvider)
	t := &T{On: !(mOff && tOff), component: component}
	t.Meter = mp.Meter(ScopeName)
	t.Tracer = tp.Tracer(ScopeName)
	t.redis, _ = t.Meter.Float64Histogram("redisware.redis.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of the Redis calls redisware makes, per component and operation."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
	return t
}

// Counter returns a counter named name (such as
// "redisware.ratelimit.decisions") with the given unit ("{decision}") and
// description. Instrument errors only come from invalid names, which are
// constants here.
func (t *T) Counter(name, unit, desc string) metric.Int64Counter {
	c, _ := t.Meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	return c
}

// Attrs returns a measurement option for the given attributes plus the
// component, built once by the caller and reused.
func (t *T) Attrs(kv ...attribute.KeyValue) metric.MeasurementOption {
	kv = append([]attribute.KeyValue{Component.String(t.component)}, kv...)
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// RedisOp measures the Redis calls of one operation; make one per
// operation when the core is built, so recording is a plain call.
type RedisOp struct {
	t         *T
	ok, error metric.MeasurementOption
}

// RedisOp returns the measurer of operation op (such as "allow").
func (t *T) RedisOp(op string) *RedisOp {
	return &RedisOp{t: t,
		ok:    t.Attrs(Operation.String(op), Outcome.String("ok")),
		error: t.Attrs(Operation.String(op), Outcome.String("error"))}
}

// Enabled reports whether measurements are recorded at all.
func (o *RedisOp) Enabled() bool { return o != nil && o.t.On }

// Record records the duration of one call, which failed if err is not nil
// and not redis.Nil (a missing key is an answer, not a failure). A nil
// RedisOp records nothing.
func (o *RedisOp) Record(ctx context.Context, d time.Duration, err error) {
	if o == nil || !o.t.On {
		return
	}
	opt := o.ok
	if err != nil && !errors.Is(err, redis.Nil) {
		opt = o.error
	}
	o.t.redis.Record(ctx, d.Seconds(), opt)
}
