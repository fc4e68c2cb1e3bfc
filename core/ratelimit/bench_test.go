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

	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// stubRedis answers every script call with an allowed GCRA reply without
// touching the network, so a benchmark measures the CPU of the decision
// path itself (key, arguments, go-redis, decoding, headers, telemetry).
type stubRedis struct{}

func (stubRedis) DialHook(next redis.DialHook) redis.DialHook { return next }
func (stubRedis) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c, ok := cmd.(*redis.Cmd); ok {
			c.SetVal([]interface{}{int64(1), int64(999), int64(0), int64(3600)})
		}
		return nil
	}
}
func (stubRedis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// BenchmarkDecideCPU is BenchmarkDecide on a stubbed Redis: what the
// instrumentation adds, in nanoseconds, with nothing else to hide it.
func BenchmarkDecideCPU(b *testing.B) {
	for _, mode := range []string{"off", "noop"} {
		b.Run("telemetry="+mode, func(b *testing.B) {
			rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
			rdb.AddHook(stubRedis{})
			opts := ratelimit.Options{Limits: []ratelimit.Limit{ratelimit.PerHour(1_000_000_000)}}
			if mode == "off" {
				opts.MeterProvider, opts.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
			}
			l, err := ratelimit.New(rdb, opts)
			if err != nil {
				b.Fatal(err)
			}
			mw, _ := ratelimit.NewMiddleware(l, ratelimit.MiddlewareOptions{Key: ratelimit.KeyByHeader("X-Key")})
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Key", "k")
			h := http.Header{}
			b.ReportAllocs()
			for b.Loop() {
				d := mw.Decide(r, "/")
				if !d.Allow {
					b.Fatalf("denied: %v", d.Err)
				}
				mw.SetHeaders(h, d)
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
			opts := ratelimit.Options{Prefix: srv.Prefix, Limits: []ratelimit.Limit{ratelimit.PerHour(1_000_000_000)}}
			if mode == "off" {
				opts.MeterProvider, opts.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
			}
			l, err := ratelimit.New(srv.Client(), opts)
			if err != nil {
				b.Fatal(err)
			}
			mw, _ := ratelimit.NewMiddleware(l, ratelimit.MiddlewareOptions{Key: ratelimit.KeyByHeader("X-Key")})
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				h := http.Header{}
				for pb.Next() {
					r.Header.Set("X-Key", strconv.FormatInt(n.Add(1)%10000, 10))
					d := mw.Decide(r, "/")
					if !d.Allow {
						b.Errorf("denied: %v", d.Err)
						return
					}
					mw.SetHeaders(h, d)
				}
			})
		})
	}
}
