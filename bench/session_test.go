package bench

import (
	"context"
	"testing"
	"time"

	"github.com/redisware/redisware/bench/internal/harness"
)

// sessionClients is how many clients, each with a session of its own, send
// requests at once.
const sessionClients = 32

// sessionWarmUp is how long each library warms up on a scenario before it
// is measured.
const sessionWarmUp = 300 * time.Millisecond

// openSessionEnv returns the run's Redis client, or skips the benchmark
// when no Redis answers.
func openSessionEnv(tb testing.TB) *harness.SessionEnv {
	tb.Helper()
	return openOrSkip(tb, harness.OpenSessions)
}

// BenchmarkSession measures requests per second, Redis round trips per
// request and the CPU time Redis spends per request, for redisware's
// sessions and scs's, in each scenario, from sessionClients clients over
// HTTP. Every answer is checked, and every session read back after each
// measurement: n must count every increment, last be the last value put.
func BenchmarkSession(b *testing.B) {
	env := openSessionEnv(b)
	ctx := context.Background()
	for _, s := range harness.SessionScenarios {
		b.Run(s.Name, func(sb *testing.B) {
			for _, lib := range harness.SessionLibraries {
				var run *harness.SessionRun
				sb.Run(lib.Name, func(b *testing.B) {
					if run == nil { // once per library and scenario, whatever b.N
						var err error
						if run, err = env.NewSessionRun(ctx, lib, s, sessionClients, false); err != nil {
							b.Fatal(err)
						}
						// A benchmark's own cleanups run after each b.N.
						sb.Cleanup(run.Close)
						if err := run.Warm(ctx, sessionWarmUp); err != nil {
							b.Fatal(err)
						}
					}
					b.ResetTimer()
					m, err := run.MeasureN(ctx, b.N)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					if err := m.Check(); err != nil {
						b.Fatal(err)
					}
					if err := run.Verify(ctx); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(m.PerSecond(), "requests/s")
					b.ReportMetric(m.RoundTripsPerRequest(), "roundtrips/op")
					b.ReportMetric(float64(m.PerRequest(m.RedisCPU))/float64(time.Microsecond), "redis-µs/op")
					b.ReportMetric(float64(m.PerRequest(m.RedisExec))/float64(time.Microsecond), "redis-exec-µs/op")
				})
			}
		})
	}
}
