package harness

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestCheck(t *testing.T) {
	many, flood := Scenarios[0], Scenarios[1]
	for _, tc := range []struct {
		name    string
		s       Scenario
		tally   Tally
		elapsed time.Duration
		ok      bool
	}{
		{"all allowed", many, Tally{Decisions: 10, Allowed: 10}, time.Second, true},
		{"one denied", many, Tally{Decisions: 10, Allowed: 9}, time.Second, false},
		{"an error", many, Tally{Decisions: 10, Allowed: 10, Errors: 1, Err: errors.New("boom")}, time.Second, false},
		{"flood with failures", flood, Tally{Decisions: 1000, Allowed: 100, Errors: 30, FailedOpen: 30, Err: errors.New("boom")}, time.Second, true},
		{"flood all failed", flood, Tally{Decisions: 1000, Allowed: 0, Errors: 1000, FailedOpen: 1000, Err: errors.New("boom")}, time.Second, true},
		{"flood with failures that consumed", flood, Tally{Decisions: 1000, Allowed: 91, Errors: 9, FailedOpen: 9, Err: errors.New("boom")}, time.Second, true},
		{"flood too few allowed", flood, Tally{Decisions: 1000, Allowed: 90, Errors: 9, FailedOpen: 9, Err: errors.New("boom")}, time.Second, false},
		{"flood at the limit", flood, Tally{Decisions: 1000, Allowed: 100}, time.Second, true},
		{"flood plus refill", flood, Tally{Decisions: 1000, Allowed: 108}, 5 * time.Second, true},
		{"flood below the burst", flood, Tally{Decisions: 1000, Allowed: 99}, time.Second, false},
		{"flood over the limit", flood, Tally{Decisions: 1000, Allowed: 150}, 5 * time.Second, false},
		{"flood with few decisions", flood, Tally{Decisions: 1, Allowed: 1}, time.Millisecond, true},
	} {
		if err := tc.s.Check(tc.tally, tc.elapsed); (err == nil) != tc.ok {
			t.Errorf("%s: Check = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// The counter must count what goes over the wire: an EVALSHA refused with
// NOSCRIPT and retried as EVAL is two round trips, a pipeline one.
func TestCounterCountsRetriesAndPipelines(t *testing.T) {
	ctx := context.Background()
	env, err := Open(ctx)
	if err != nil {
		t.Skipf("no Redis (set %s): %v", AddrEnv, err)
	}
	t.Cleanup(func() {
		if _, err := env.Cleanup(ctx); err != nil {
			t.Error(err)
		}
		env.Close()
	})
	rdb, c := env.Client(Library{}), env.Counter(Library{})
	// A script body no server has seen: its first run is NOSCRIPT + EVAL.
	script := redis.NewScript("-- " + env.Prefix("counter-test") + "\nreturn 1")
	for i, want := range []int64{2, 1} {
		before := c.Load()
		if err := script.Run(ctx, rdb, nil).Err(); err != nil {
			t.Fatal(err)
		}
		if got := c.Load() - before; got != want {
			t.Errorf("script run %d: %d round trips, want %d", i+1, got, want)
		}
	}
	key := env.Prefix("counter-test") + "k"
	pipeline := func() int64 {
		before := c.Load()
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, "1", time.Minute)
			p.Incr(ctx, key)
			p.Get(ctx, key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.Load() - before
	}
	// Pipelines have a connection pool of their own: the first one dials,
	// and the handshake of the new connection goes over the wire too.
	if got := pipeline(); got < 1 {
		t.Errorf("first pipeline: %d round trips, want at least 1", got)
	}
	if got := pipeline(); got != 1 {
		t.Errorf("pipeline: %d round trips, want 1", got)
	}
	n, err := env.Cleanup(ctx)
	if err != nil || n != 1 {
		t.Errorf("Cleanup deleted %d keys (%v), want the 1 made", n, err)
	}
	if !strings.HasPrefix(key, "ratebench:") {
		t.Errorf("key %q is outside the run's prefix", key)
	}
}

func TestParseConcurrencies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"32", []int{32}},
		{"1,32,256", []int{1, 32, 256}},
		{" 1, 32 ", []int{1, 32}},
		{"", nil},
		{"0", nil},
		{"1,,2", nil},
		{"1,x", nil},
		{"-4", nil},
	} {
		got, err := ParseConcurrencies(tc.in)
		if (err == nil) != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseConcurrencies(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestWritePipelineTable(t *testing.T) {
	rounds := func(rates ...float64) []PipelineRound {
		var rs []PipelineRound
		for _, r := range rates {
			rs = append(rs, PipelineRound{PerSecond: r, RoundTrips: 1000 / r, BenchCPU: time.Duration(1e9 / r), RedisCPU: time.Duration(5e8 / r)})
		}
		return rs
	}
	rows := []PipelineRow{
		{Scenario: "s", Library: PlainLibrary, C: 1, Rounds: rounds(1000, 900, 1100)},
		{Scenario: "s", Library: AutoPipelineLibrary, C: 1, Rounds: rounds(500, 400, 600)},
		{Scenario: "s", Library: "other", C: 1, Rounds: rounds(1)},
		{Scenario: "s", Library: PlainLibrary, C: 32, Rounds: rounds(1000, 950, 1050)},
		{Scenario: "s", Library: AutoPipelineLibrary, C: 32, Rounds: rounds(1040, 1020, 1200)},
		{Scenario: "t", Library: PlainLibrary, C: 32, Rounds: rounds(1000)}, // no pair
	}
	var b strings.Builder
	WritePipelineTable(&b, "goroutines", "decision", rows)
	out := b.String()
	for _, want := range []string{
		"| scenario | goroutines | redisware | redisware-autopipeline | ratio | round trips/decision (pipelined) | bench CPU µs/decision | Redis CPU µs/decision |\n",
		"| s | 1 | 1000 (900–1100) | 500 (400–600) | 0.50x | 2.0000 | 1000.0 → 2000.0 | 500.0 → 1000.0 |\n",
		"| s | 32 | 1000 (950–1050) | 1040 (1020–1200) | 1.04x (level) | 0.9615 | 1000.0 → 961.5 | 500.0 → 480.8 |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n| s |") + strings.Count(out, "\n| t |"); n != 2 {
		t.Errorf("%d rows, want 2:\n%s", n, out)
	}
	b.Reset()
	WritePipelineTable(&b, "goroutines", "decision", rows[:1])
	if b.Len() != 0 {
		t.Errorf("without an auto-pipelined row it wrote:\n%s", b.String())
	}
}
