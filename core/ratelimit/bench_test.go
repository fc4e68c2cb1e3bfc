package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// stubRedis answers every script call with reply without touching the
// network, so a benchmark measures the CPU of the decision path itself
// (key, arguments, go-redis, decoding, headers, telemetry).
type stubRedis struct{ reply interface{} }

// benchLimit is the limit of the stubbed benchmarks: one limit, so that
// decisions run gcra1.lua, whose replies these are. allowedReply admits a
// request (packed: reset after 3,600 µs × (burst + 1) + 999 remaining);
// deniedReply denies it for a minute (remaining, retry after, reset after).
var (
	benchLimit   = ratelimit.PerHour(1_000_000)
	allowedReply = int64(3600*(1_000_000+1) + 999)
	deniedReply  = []interface{}{int64(0), int64(60_000_000), int64(60_000_000)}
)

func (stubRedis) DialHook(next redis.DialHook) redis.DialHook { return next }
func (s stubRedis) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c, ok := cmd.(interface{ SetVal(interface{}) }); ok {
			c.SetVal(s.reply)
		}
		return nil
	}
}
func (s stubRedis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { // a batch of decisions
		for _, cmd := range cmds {
			if c, ok := cmd.(interface{ SetVal(interface{}) }); ok {
				c.SetVal(s.reply)
			}
		}
		return nil
	}
}

// discard is a ResponseWriter that keeps nothing but its header map,
// emptied before each request.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func (d *discard) reset() {
	for k := range d.h {
		delete(d.h, k)
	}
}

var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkDecideCPU is BenchmarkDecide on a stubbed Redis: what the
// instrumentation adds, in nanoseconds, with nothing else to hide it.
func BenchmarkDecideCPU(b *testing.B) {
	for _, mode := range []string{"off", "noop"} {
		b.Run("telemetry="+mode, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
			rdb.AddHook(stubRedis{allowedReply})
			opts := ratelimit.Options{Name: "bench", Limits: []ratelimit.Limit{benchLimit}, Key: ratelimit.KeyByHeader("X-Key")}
			if mode == "off" {
				opts.MeterProvider, opts.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
			}
			l, err := ratelimit.New(rdb, opts)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Key", "k")
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				if rej := l.Serve(w, r, noop); rej != nil {
					b.Fatalf("denied: %v", rej)
				}
			}
		})
	}
}

// BenchmarkDeniedCPU is the path of a flooded route on a stubbed Redis: a
// client the deny cache already knows, answered with the default 429
// problem body, with instrumentation off and on.
func BenchmarkDeniedCPU(b *testing.B) {
	for _, mode := range []string{"off", "noop"} {
		b.Run("telemetry="+mode, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
			rdb.AddHook(stubRedis{deniedReply})
			opts := ratelimit.Options{Name: "bench", Limits: []ratelimit.Limit{benchLimit}}
			if mode == "off" {
				opts.Settings = core.Settings{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()}
			}
			l, err := ratelimit.New(rdb, opts)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			w := &discard{h: http.Header{}}
			l.ServeHTTP(w, r, noop) // Redis denies; the deny cache answers from now on
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				l.ServeHTTP(w, r, noop)
			}
		})
	}
}

// BenchmarkDecide measures the HTTP decision path (key, Redis call,
// headers) with instrumentation switched off (the no-op providers passed
// explicitly) and on with the global providers and no SDK installed (the
// default). Compare the two with benchstat:
//
//	REDISWARE_REDIS_ADDR=127.0.0.1:6379 go test -run x -bench Decide -count 10 ./core/ratelimit/ | benchstat -col /telemetry -
func BenchmarkDecide(b *testing.B) {
	for _, mode := range []string{"off", "noop"} {
		b.Run("telemetry="+mode, func(b *testing.B) {
			srv := redistest.New(b)
			opts := ratelimit.Options{Name: "bench", Limits: []ratelimit.Limit{benchLimit}, Key: ratelimit.KeyByHeader("X-Key")}
			opts.Prefix = srv.Prefix
			if mode == "off" {
				opts.MeterProvider, opts.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
			}
			l, err := ratelimit.New(srv.Client(), opts)
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				w := &discard{h: http.Header{}}
				for pb.Next() {
					r.Header.Set("X-Key", strconv.FormatInt(n.Add(1)%10000, 10))
					w.reset()
					if rej := l.Serve(w, r, noop); rej != nil {
						b.Errorf("denied: %v", rej)
						return
					}
				}
			})
		})
	}
}

// BenchmarkFloodedKey is the deny cache's fast path: Allow for a key Redis
// has denied, answered locally, from every core at once.
func BenchmarkFloodedKey(b *testing.B) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	rdb.AddHook(stubRedis{deniedReply})
	l, err := ratelimit.New(rdb, ratelimit.Options{Name: "bench", Limits: []ratelimit.Limit{benchLimit},
		Settings: core.Settings{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if res, _ := l.Allow(ctx, "flooder"); res.Allowed || res.Local { // Redis denies; the cache answers from now on
		b.Fatalf("first request: %+v", res)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, _ := l.Allow(ctx, "flooder"); !res.Local {
				b.Errorf("not answered locally: %+v", res)
				return
			}
		}
	})
}
