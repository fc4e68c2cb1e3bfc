package idempotency

import (
	"net/http"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/telemetry"
)

// Outcomes of a guarded request, as redisware.idempotency.requests and the
// request's span name them.
const (
	outcomeUnguarded   = "unguarded"   // not a guarded method, or no key and none required
	outcomeClaimed     = "claimed"     // first request: the handler ran
	outcomeReplayed    = "replayed"    // a stored response was replayed
	outcomeConflict    = "conflict"    // 409: in flight, or too large to replay
	outcomeMismatch    = "mismatch"    // 422: the key was used for another request
	outcomeInvalid     = "invalid"     // 400: missing or malformed key
	outcomeTooLarge    = "too_large"   // 413
	outcomeUnavailable = "unavailable" // 503: Redis could not claim, or the session could not be loaded
)

func rejectionOutcome(status int) string {
	switch status {
	case http.StatusConflict:
		return outcomeConflict
	case http.StatusUnprocessableEntity:
		return outcomeMismatch
	case http.StatusRequestEntityTooLarge:
		return outcomeTooLarge
	case http.StatusServiceUnavailable:
		return outcomeUnavailable
	}
	return outcomeInvalid
}

// instruments are a Guard's metrics, with their attribute sets built once.
type instruments struct {
	t                                    *telemetry.T
	requests                             metric.Int64Counter
	outcomes                             map[string]metric.MeasurementOption
	claim, store, refresh, release, wait *telemetry.RedisOp
	spanStart                            []trace.SpanStartOption
}

func newInstruments(opts Options) *instruments {
	t := telemetry.New("idempotency", opts.MeterProvider, opts.TracerProvider)
	policy := telemetry.Policy.String(opts.Name)
	in := &instruments{t: t, outcomes: map[string]metric.MeasurementOption{}}
	in.requests = t.Counter("redisware.idempotency.requests", "{request}",
		"Requests seen by an idempotency guard, by guard and outcome (claimed, replayed, conflict, mismatch, invalid, too_large, unavailable, unguarded).")
	for _, o := range []string{outcomeUnguarded, outcomeClaimed, outcomeReplayed, outcomeConflict, outcomeMismatch, outcomeInvalid, outcomeTooLarge, outcomeUnavailable} {
		in.outcomes[o] = t.Attrs(policy, telemetry.Outcome.String(o))
	}
	in.claim, in.store, in.refresh, in.release, in.wait = t.RedisOp("claim"), t.RedisOp("store"), t.RedisOp("refresh"), t.RedisOp("release"), t.RedisOp("wait")
	in.spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(policy)}
	return in
}
