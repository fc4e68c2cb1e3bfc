package harness

import (
	"context"
	"log/slog"
	"strings"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	ulule "github.com/ulule/limiter/v3"
	ulredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
)

// RedisRatePrefix is what redis_rate puts before every key it is given.
const RedisRatePrefix = "rate:"

// Decide makes one rate-limit decision for key and reports whether it was
// allowed. An error is never an answer: the harness stops on it.
type Decide func(ctx context.Context, key string) (allowed bool, err error)

// Library is one rate limiter under test.
type Library struct {
	// Name is the benchmark and table name.
	Name string
	// NoContextTimeout runs the library on the client built without
	// ContextTimeoutEnabled (which makes redisware's calls run in a
	// goroutine of their own).
	NoContextTimeout bool
	// New builds the limiter for lim, with every key it creates under
	// prefix.
	New func(rdb *redis.Client, prefix string, lim Limit) (Decide, error)
}

// Libraries are the limiters, in table order.
var Libraries = []Library{
	{Name: PlainLibrary, New: newRedisware},
	{Name: "redisware-fixed-window", New: newRediswareAlgorithm(ratelimit.FixedWindow)},
	{Name: "redisware-sliding-window-counter", New: newRediswareAlgorithm(ratelimit.SlidingWindowCounter)},
	{Name: "redisware-sliding-window-log", New: newRediswareAlgorithm(ratelimit.SlidingWindowLog)},
	{Name: AutoPipelineLibrary, New: newRediswareAutoPipeline},
	{Name: "redisware-no-ctx-timeout", NoContextTimeout: true, New: newRedisware},
	{Name: "redis_rate", New: newRedisRate},
	{Name: "ulule", New: newUlule},
}

// newRedisware is core/ratelimit with its defaults (GCRA, a 100ms deadline
// per call, the local deny cache on) but for the logger: failures are
// counted by the harness, not logged once each.
func newRedisware(rdb *redis.Client, prefix string, lim Limit) (Decide, error) {
	return redisware(rdb, prefix, lim, ratelimit.GCRA)
}

// newRediswareAlgorithm is core/ratelimit with another algorithm (the fixed
// window is the one ulule uses), otherwise as newRedisware.
func newRediswareAlgorithm(alg ratelimit.Algorithm) func(rdb *redis.Client, prefix string, lim Limit) (Decide, error) {
	return func(rdb *redis.Client, prefix string, lim Limit) (Decide, error) {
		return redisware(rdb, prefix, lim, alg)
	}
}

// newRediswareAutoPipeline is newRedisware on the client's AutoPipeliner
// (go-redis v9.23's rdb.AutoPipeline(), its default options), which
// batches the calls of concurrent decisions into pipelines.
func newRediswareAutoPipeline(rdb *redis.Client, prefix string, lim Limit) (Decide, error) {
	ap, err := rdb.AutoPipeline()
	if err != nil {
		return nil, err
	}
	return redisware(ap, prefix, lim, ratelimit.GCRA)
}

func redisware(rdb redis.UniversalClient, prefix string, lim Limit, alg ratelimit.Algorithm) (Decide, error) {
	l, err := ratelimit.New(rdb, ratelimit.Options{
		Settings:  core.Settings{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)},
		Algorithm: alg,
		Name:      "bench",
		Limits:    []ratelimit.Limit{{Rate: lim.Rate, Period: lim.Period}},
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, key string) (bool, error) {
		res, err := l.Allow(ctx, key)
		return res.Allowed, err
	}, nil
}

// newRedisRate is go-redis/redis_rate (GCRA in Lua), burst = rate.
func newRedisRate(rdb *redis.Client, prefix string, lim Limit) (Decide, error) {
	l := redis_rate.NewLimiter(rdb)
	rl := redis_rate.Limit{Rate: lim.Rate, Burst: lim.Rate, Period: lim.Period}
	return func(ctx context.Context, key string) (bool, error) {
		res, err := l.Allow(ctx, prefix+key, rl)
		if err != nil {
			return false, err
		}
		return res.Allowed > 0, nil
	}, nil
}

// newUlule is ulule/limiter with its Redis store (a fixed window counted
// by a Lua INCRBY).
func newUlule(rdb *redis.Client, prefix string, lim Limit) (Decide, error) {
	// The store joins its prefix and the key with a colon of its own.
	store, err := ulredis.NewStoreWithOptions(rdb, ulule.StoreOptions{
		Prefix:          strings.TrimSuffix(prefix, ":"),
		CleanUpInterval: ulule.DefaultCleanUpInterval,
	})
	if err != nil {
		return nil, err
	}
	l := ulule.New(store, ulule.Rate{Limit: int64(lim.Rate), Period: lim.Period})
	return func(ctx context.Context, key string) (bool, error) {
		c, err := l.Get(ctx, key)
		if err != nil {
			return false, err
		}
		return !c.Reached, nil
	}, nil
}
