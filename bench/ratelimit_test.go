package bench

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/bench/internal/harness"
)

// Concurrency is how many goroutines make decisions at once.
const Concurrency = 32

// warmUp is how long each library warms up on a scenario before it is
// measured.
const warmUp = 300 * time.Millisecond

// benchEnv is what a benchmark opens on the run's Redis: its keys are
// deleted and its clients closed when the benchmark ends.
type benchEnv interface {
	Cleanup(ctx context.Context) (int, error)
	Close()
}

// openOrSkip opens an environment with open, or skips the benchmark when
// no Redis answers, and deletes its keys and closes it at the end.
func openOrSkip[E benchEnv](tb testing.TB, open func(context.Context) (E, error)) E {
	tb.Helper()
	env, err := open(context.Background())
	if err != nil {
		tb.Skipf("no Redis to benchmark against (start one, or set %s): %v", harness.AddrEnv, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := env.Cleanup(ctx); err != nil {
			tb.Errorf("deleting the run's keys: %v", err)
		}
		env.Close()
	})
	return env
}

// openEnv returns the run's Redis clients, or skips the benchmark when no
// Redis answers.
func openEnv(tb testing.TB) *harness.Env {
	tb.Helper()
	return openOrSkip(tb, harness.Open)
}

// BenchmarkRateLimit measures decisions per second and Redis round trips per
// decision of each library in each scenario, from Concurrency goroutines on
// one shared client. Every sub-benchmark checks its answers: in many-keys
// every decision must be allowed, in flood about the limit.
func BenchmarkRateLimit(b *testing.B) {
	env := openEnv(b)
	ctx := context.Background()
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	parallelism := (Concurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	goroutines := parallelism * runtime.GOMAXPROCS(0)
	for _, s := range harness.Scenarios {
		keys := s.KeyNames()
		b.Run(s.Name, func(b *testing.B) {
			for _, lib := range harness.Libraries {
				warmed := false
				b.Run(lib.Name, func(b *testing.B) {
					if !warmed {
						if err := env.Warm(ctx, lib, s, keys, goroutines, warmUp); err != nil {
							b.Fatal(err)
						}
						warmed = true
					}
					decide, err := env.Limiter(lib, s, "bench")
					if err != nil {
						b.Fatal(err)
					}
					var (
						next atomic.Int64
						mu   sync.Mutex
						sum  harness.Tally
					)
					counter := env.Counter(lib)
					b.SetParallelism(parallelism)
					b.ResetTimer()
					rt0 := counter.Load()
					b.RunParallel(func(pb *testing.PB) {
						w := harness.NewWorker(decide, keys, int(next.Add(1)-1), goroutines)
						for pb.Next() {
							w.Step(ctx)
						}
						mu.Lock()
						sum.Add(w.Tally)
						mu.Unlock()
					})
					b.StopTimer()
					rt := counter.Load() - rt0
					// Every run starts from the same (empty) keyspace.
					if _, err := env.Cleanup(ctx); err != nil {
						b.Fatal(err)
					}
					if err := s.Check(sum, b.Elapsed()); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
					b.ReportMetric(float64(rt)/float64(b.N), "roundtrips/op")
					b.ReportMetric(float64(sum.Allowed), "allowed")
					b.ReportMetric(float64(sum.Errors), "failed-calls")
					b.ReportMetric(float64(sum.FailedOpen), "failed-open")
				})
			}
		})
	}
}
