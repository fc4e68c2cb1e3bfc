package httpcache

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redisware/redisware/core/internal/telemetry"
)

// Outcomes counted by redisware.cache.requests.
const (
	outcomeHit      = "hit"       // served from Redis
	outcomeLocalHit = "local_hit" // served from the in-process tier
	outcomeStale    = "stale"     // a stale response served (stale-while-revalidate, max-stale, stale-if-error)
	outcomeMiss     = "miss"      // forwarded to the handler (nothing stored, or revalidation)
	outcomeBypass   = "bypass"    // not looked up, or the lookup failed; see the reason
)

// Reasons for a bypass.
var bypassReasons = []string{"method", "skip", "request", "redis_unavailable"}

// instruments are a Cache's metrics, with their attribute sets built once.
type instruments struct {
	t             *telemetry.T
	requests      metric.Int64Counter
	stores        metric.Int64Counter
	storedBytes   metric.Int64Counter
	invalidations metric.Int64Counter
	// The attribute sets as option lists built once: passing one with
	// "..." costs no allocation, where a single option would.
	outcomes map[string][]metric.AddOption
	bypass   map[string][]metric.AddOption
	plain    []metric.AddOption
	kinds    map[string][]metric.AddOption
	ops      map[string]*telemetry.RedisOp
}

func newInstruments(opts Options) *instruments {
	t := telemetry.New("httpcache", opts.MeterProvider, opts.TracerProvider)
	policy := telemetry.Policy.String(opts.Name)
	in := &instruments{t: t, outcomes: map[string][]metric.AddOption{}, bypass: map[string][]metric.AddOption{},
		kinds: map[string][]metric.AddOption{}, ops: map[string]*telemetry.RedisOp{}}
	in.requests = t.Counter("redisware.cache.requests", "{request}",
		"Cache lookups, HTTP and application data, by cache and outcome (hit, local_hit, stale, miss, bypass with its reason).")
	in.stores = t.Counter("redisware.cache.stores", "{entry}", "Entries stored, by cache.")
	in.storedBytes = t.Counter("redisware.cache.stored_bytes", "By", "Bytes of entries stored (after compression), by cache.")
	in.invalidations = t.Counter("redisware.cache.invalidations", "{invalidation}",
		"Invalidations requested, by cache and kind (url, tag, prefix, key).")
	for _, o := range []string{outcomeHit, outcomeLocalHit, outcomeStale, outcomeMiss} {
		in.outcomes[o] = []metric.AddOption{t.Attrs(policy, telemetry.Outcome.String(o))}
	}
	for _, r := range bypassReasons {
		in.bypass[r] = []metric.AddOption{t.Attrs(policy, telemetry.Outcome.String(outcomeBypass), attribute.String("redisware.reason", r))}
	}
	for _, k := range []string{"url", "tag", "prefix", "key"} {
		in.kinds[k] = []metric.AddOption{t.Attrs(policy, attribute.String("redisware.kind", k))}
	}
	in.plain = []metric.AddOption{t.Attrs(policy)}
	for _, op := range []string{"lookup", "store", "get", "set", "invalidate", "publish", "lock"} {
		in.ops[op] = t.RedisOp(op)
	}
	return in
}

func (in *instruments) request(ctx context.Context, outcome string) {
	if in.t.On {
		in.requests.Add(ctx, 1, in.outcomes[outcome]...)
	}
}

// dataOutcome counts a GetOrLoad call: outcomeBypass stands for a Redis
// failure.
func (in *instruments) dataOutcome(ctx context.Context, outcome string) {
	if outcome == outcomeBypass {
		in.bypassed(ctx, "redis_unavailable")
		return
	}
	in.request(ctx, outcome)
}

func (in *instruments) bypassed(ctx context.Context, reason string) {
	if in.t.On {
		in.requests.Add(ctx, 1, in.bypass[reason]...)
	}
}

func (in *instruments) stored(ctx context.Context, bytes int) {
	if in.t.On {
		in.stores.Add(ctx, 1, in.plain...)
		in.storedBytes.Add(ctx, int64(bytes), in.plain...)
	}
}

func (in *instruments) invalidated(ctx context.Context, kind string, n int) {
	if in.t.On && n > 0 {
		in.invalidations.Add(ctx, int64(n), in.kinds[kind]...)
	}
}
