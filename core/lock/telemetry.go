package lock

import (
	"context"

	"go.opentelemetry.io/otel/metric"

	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// Outcomes counted by redisware.lock.operations.
const (
	outcomeObtained  = "obtained"  // an Obtain that got the lock
	outcomeContended = "contended" // an attempt that found the lock held
	outcomeLost      = "lost"      // an auto-refreshed lock found lost
)

type instruments struct {
	t          *telemetry.T
	operations metric.Int64Counter
	outcomes   map[string]metric.MeasurementOption
	ops        map[*script.Script]*telemetry.RedisOp
}

func newInstruments(opts Options) *instruments {
	t := telemetry.New("lock", opts.MeterProvider, opts.TracerProvider)
	in := &instruments{t: t, outcomes: map[string]metric.MeasurementOption{}}
	in.operations = t.Counter("redisware.lock.operations", "{attempt}",
		"Lock attempts and losses, by outcome (obtained, contended, lost).")
	for _, o := range []string{outcomeObtained, outcomeContended, outcomeLost} {
		in.outcomes[o] = t.Attrs(telemetry.Outcome.String(o))
	}
	in.ops = map[*script.Script]*telemetry.RedisOp{
		obtainScript:  t.RedisOp("obtain"),
		releaseScript: t.RedisOp("release"),
		refreshScript: t.RedisOp("refresh"),
		pttlScript:    t.RedisOp("ttl"),
	}
	return in
}

func (in *instruments) count(ctx context.Context, outcome string) {
	if in != nil && in.t.On {
		in.operations.Add(ctx, 1, in.outcomes[outcome])
	}
}
