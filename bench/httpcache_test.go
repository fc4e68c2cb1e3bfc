package bench

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/redisware/redisware/bench/internal/harness"
)

// openCacheEnv returns the run's Redis clients with a go-redis v8 client
// for gin-cache, or skips the benchmark when no Redis answers.
func openCacheEnv(tb testing.TB) *harness.CacheEnv {
	tb.Helper()
	ce := harness.NewCacheEnv(openEnv(tb))
	tb.Cleanup(ce.Close)
	return ce
}

// parallelism returns RunParallel's parallelism for Concurrency goroutines.
func parallelism() int {
	return (Concurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
}

// BenchmarkHTTPCache measures requests per second and Redis round trips per
// request of each Gin HTTP cache, hits (1000 stored URLs) and misses (a new
// URL per request), from Concurrency goroutines. Every sub-benchmark
// checks its answers: a hit never runs the handler, a miss always does.
func BenchmarkHTTPCache(b *testing.B) {
	ce := openCacheEnv(b)
	for _, s := range harness.CacheScenarios {
		b.Run(s.Name, func(b *testing.B) {
			for _, lib := range harness.HTTPLibraries {
				b.Run(lib.Name, func(b *testing.B) {
					r, err := ce.NewHTTPRun(lib, s)
					if err != nil {
						b.Fatal(err)
					}
					defer r.Close()
					if err := ce.WarmHTTP(context.Background(), r, Concurrency, warmUp); err != nil {
						b.Fatal(err)
					}
					rt := ce.RoundTrips(lib.V8)
					var worker atomic.Int64
					b.SetParallelism(parallelism())
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						step := r.Stepper(int(worker.Add(1)-1)%Concurrency, Concurrency)
						for i := 0; pb.Next(); i++ {
							step(i)
						}
					})
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
					b.ReportMetric(float64(ce.RoundTrips(lib.V8)-rt)/float64(b.N), "roundtrips/op")
					if n := r.Bad(); n > 0 {
						b.Fatalf("%d wrong answers", n)
					}
					b.ReportMetric(float64(r.Failures()), "cache-failures")
					if s.Keys > 0 && r.Executions() > r.Failures() {
						b.Fatalf("hits ran the handler %d times with %d cache failures", r.Executions(), r.Failures())
					}
				})
			}
		})
	}
}

// BenchmarkGetOrLoad measures GetOrLoad calls per second and round trips
// per call of each cache-aside library, as BenchmarkHTTPCache does.
func BenchmarkGetOrLoad(b *testing.B) {
	ce := openCacheEnv(b)
	ctx := context.Background()
	for _, s := range harness.CacheScenarios {
		b.Run(s.Name, func(b *testing.B) {
			for _, lib := range harness.DataLibraries {
				b.Run(lib.Name, func(b *testing.B) {
					r, err := ce.NewDataRun(lib, s)
					if err != nil {
						b.Fatal(err)
					}
					defer r.Close()
					if err := ce.WarmData(ctx, r, Concurrency, warmUp); err != nil {
						b.Fatal(err)
					}
					rt := ce.RoundTrips(false)
					var worker atomic.Int64
					b.SetParallelism(parallelism())
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						step := r.Stepper(int(worker.Add(1)-1)%Concurrency, Concurrency)
						for i := 0; pb.Next(); i++ {
							step(i)
						}
					})
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
					b.ReportMetric(float64(ce.RoundTrips(false)-rt)/float64(b.N), "roundtrips/op")
					if n := r.Bad(); n > 0 {
						b.Fatalf("%d wrong answers", n)
					}
					b.ReportMetric(float64(r.Failures()), "cache-failures")
					if s.Keys > 0 && r.Executions() > r.Failures() {
						b.Fatalf("hits ran the loader %d times with %d cache failures", r.Executions(), r.Failures())
					}
				})
			}
		})
	}
}
