package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips counts what a client sends to Redis: one per command, one per
// pipeline or transaction, whatever it holds. A script call that meets
// NOSCRIPT and is sent again as EVAL counts twice, as it costs two trips.
type RoundTrips struct{ n atomic.Int64 }

// CountRoundTrips installs a counting hook on client and returns the count.
func CountRoundTrips(client redis.UniversalClient) *RoundTrips {
	rt := &RoundTrips{}
	client.AddHook(rt)
	return rt
}

// Load returns the number of round trips so far.
func (rt *RoundTrips) Load() int64 { return rt.n.Load() }

// DialHook implements redis.Hook; dials are not counted.
func (rt *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook, counting each command.
func (rt *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		rt.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook, counting each pipeline once.
func (rt *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		rt.n.Add(1)
		return next(ctx, cmds)
	}
}
