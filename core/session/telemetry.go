package session

import (
	"context"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/telemetry"
)

// instruments are a Manager's metrics, with their attribute sets built once.
type instruments struct {
	t            *telemetry.T
	operations   metric.Int64Counter
	loadFailures metric.Int64Counter
	outcomes     map[string]metric.MeasurementOption
	plain        metric.MeasurementOption
	ops          map[string]*telemetry.RedisOp
	spanStart    []trace.SpanStartOption
}

func newInstruments(mp metric.MeterProvider, tp trace.TracerProvider) *instruments {
	t := telemetry.New("session", mp, tp)
	in := &instruments{t: t, outcomes: map[string]metric.MeasurementOption{}, ops: map[string]*telemetry.RedisOp{}}
	in.operations = t.Counter("redisware.session.operations", "{session}",
		"Sessions created, renewed, destroyed and revoked, by outcome.")
	in.loadFailures = t.Counter("redisware.session.load_failures", "{request}",
		"Requests whose session could not be loaded (answered 503).")
	for _, o := range []string{"created", "renewed", "destroyed", "revoked"} {
		in.outcomes[o] = t.Attrs(telemetry.Outcome.String(o))
	}
	in.plain = t.Attrs()
	for _, op := range []string{"load", "save", "create", "renew", "destroy", "incr", "list", "revoke", "revoke_all", "secret"} {
		in.ops[op] = t.RedisOp(op)
	}
	in.spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
	return in
}

// count records n sessions with outcome.
func (in *instruments) count(ctx context.Context, outcome string, n int) {
	if in.t.On && n > 0 {
		in.operations.Add(ctx, int64(n), in.outcomes[outcome])
	}
}
