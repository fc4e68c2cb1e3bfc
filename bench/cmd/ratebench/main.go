// Command ratebench compares redisware's rate limiter with its peers on one
// Redis: for each scenario, library and concurrency it runs exactly that
// many goroutines for -d after a warm-up, and prints a Markdown table of
// decisions per second, Redis round trips per decision and the CPU time
// each decision costs the benchmark process and the Redis server.
//
//	go run ./cmd/ratebench -d 4s -rounds 3
//	go run ./cmd/ratebench -d 4s -rounds 3 -only many-keys/redisware -c 1,32,256
//	go run ./cmd/ratebench -http -d 4s -rounds 3
//
// With -rounds n every row is measured n times, the rows taking turns, and
// each column shows its median over the rounds, with the range. -c takes a
// comma-separated list of concurrencies; with more than one, a second
// table compares redisware with redisware-autopipeline at each. With -http
// it measures the reference app instead (see http.go).
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redisware/redisware/bench/internal/harness"
)

func main() {
	d := flag.Duration("d", 5*time.Second, "how long each row is measured")
	cs := flag.String("c", "32", "concurrent goroutines making decisions (or HTTP requests); a comma-separated list measures each")
	warm := flag.Duration("warmup", time.Second, "warm-up before each measurement, on keys of its own")
	rounds := flag.Int("rounds", 1, "measure every row this many times, taking turns, and show the medians")
	only := flag.String("only", "", "measure only the rows whose scenario/library (or app/route with -http) contains this")
	httpMode := flag.Bool("http", false, "measure the reference app's /healthz and a flooded /limited over HTTP instead")
	flag.Parse()
	conc, err := harness.ParseConcurrencies(*cs)
	if err != nil || *d <= 0 || *warm < 0 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "ratebench: -c must list numbers of at least 1, -rounds be at least 1, -d positive, -warmup not negative")
		os.Exit(2)
	}
	run := runLibraries
	if *httpMode {
		run = runHTTP
	}
	if err := run(*d, conc, *warm, *rounds, *only); err != nil {
		fmt.Fprintln(os.Stderr, "ratebench:", err)
		os.Exit(1)
	}
}

// row is one scenario × library × concurrency and its measurements, one
// per round.
type row struct {
	s   harness.Scenario
	lib harness.Library
	c   int
	ms  []harness.Measurement
}

func (r *row) name() string { return r.s.Name + "/" + r.lib.Name }

func runLibraries(d time.Duration, conc []int, warm time.Duration, rounds int, only string) (err error) {
	ctx := context.Background()
	env, err := harness.Open(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, cerr := env.Cleanup(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("deleting the run's keys: %w", cerr)
		}
	}()

	var rows []*row
	for _, s := range harness.Scenarios {
		for _, lib := range harness.Libraries {
			for _, c := range conc {
				r := &row{s: s, lib: lib, c: c}
				if strings.Contains(r.name(), only) {
					rows = append(rows, r)
				}
			}
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("-only %q matches no row", only)
	}
	keys := map[string][]string{}
	for _, s := range harness.Scenarios {
		keys[s.Name] = s.KeyNames()
	}
	var failed, notes []string
	load := newLoad()
	for round := range rounds {
		for _, r := range rows {
			if warm > 0 {
				if err := env.Warm(ctx, r.lib, r.s, keys[r.s.Name], r.c, warm); err != nil {
					failed = append(failed, fmt.Sprintf("%s (c=%d): %v", r.name(), r.c, err))
				}
			}
			decide, err := env.Limiter(r.lib, r.s, "measure")
			if err != nil {
				return fmt.Errorf("%s: %w", r.name(), err)
			}
			m, err := env.Measure(ctx, r.lib, decide, keys[r.s.Name], r.c, d)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name(), err)
			}
			// Every measurement starts from the same (empty) keyspace.
			if _, err := env.Cleanup(ctx); err != nil {
				return fmt.Errorf("deleting the run's keys: %w", err)
			}
			r.ms = append(r.ms, m)
			load.add(m.OthersCPU())
			if err := r.s.Check(m.Tally, m.Elapsed); err != nil {
				failed = append(failed, fmt.Sprintf("%s (c=%d): %v", r.name(), r.c, err))
			}
			if m.Errors > 0 {
				notes = append(notes, fmt.Sprintf("- %s (c=%d), round %d: %d calls failed, %d of them admitted (failing open); first: %v",
					r.name(), r.c, round+1, m.Errors, m.FailedOpen, m.Err))
			}
		}
	}

	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; Redis %s at %s; %v per row after %v warm-up",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, d, warm)
	if rounds > 1 {
		fmt.Printf("; medians of %d rounds (range)", rounds)
	}
	fmt.Printf("; %s\n\n", load)
	fmt.Println("| scenario | library | goroutines | decisions/s | round trips/decision | allowed (count) | failed calls (admitted) | bench CPU µs/decision | Redis CPU µs/decision | script µs/call | others' CPU (cores) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		// The counts come from the round of median decisions/s.
		m := slices.SortedFunc(slices.Values(r.ms), func(a, b harness.Measurement) int {
			return cmp.Compare(a.PerSecond(), b.PerSecond())
		})[len(r.ms)/2]
		fmt.Printf("| %s | %s | %d | %s | %s | %d of %d | %d (%d) | %s | %s | %s | %s |\n",
			r.s.Name, r.lib.Name, r.c,
			harness.Spread(r.ms, "%.0f", harness.Measurement.PerSecond),
			roundTrips(m), m.Allowed, m.Decisions, m.Errors, m.FailedOpen,
			harness.Spread(r.ms, "%.2f", func(m harness.Measurement) float64 { p, _ := m.CPUPerDecision(); return harness.Micros(p) }),
			harness.Spread(r.ms, "%.2f", func(m harness.Measurement) float64 { _, s := m.CPUPerDecision(); return harness.Micros(s) }),
			harness.Spread(r.ms, "%.2f", func(m harness.Measurement) float64 { return harness.Micros(m.ScriptTimePerCall()) }),
			harness.Spread(r.ms, "%.2f", harness.Measurement.OthersCPU))
	}
	if len(conc) > 1 {
		prs := make([]harness.PipelineRow, len(rows))
		for i, r := range rows {
			prs[i] = harness.NewPipelineRow(r.s.Name, r.lib.Name, r.c, r.ms)
		}
		harness.WritePipelineTable(os.Stdout, "goroutines", "decision", prs)
	}
	if len(notes) > 0 {
		fmt.Printf("\n%s\n", strings.Join(notes, "\n"))
	}
	if len(failed) > 0 {
		return fmt.Errorf("sanity checks failed:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// roundTrips formats round trips per decision, with the total when it is
// too small to read in four decimals.
func roundTrips(m harness.Measurement) string {
	r := m.RoundTripsPerDecision()
	if r >= 0.01 || m.RoundTrips == 0 {
		return fmt.Sprintf("%.4f", r)
	}
	return fmt.Sprintf("%.6f (%d in all)", r, m.RoundTrips)
}

// load summarises how busy the machine was with others' work while the
// rows were measured, and the load average at the end.
type load struct{ others []float64 }

func newLoad() *load { return &load{} }

func (l *load) add(others float64) {
	if others >= 0 {
		l.others = append(l.others, others)
	}
}

func (l *load) String() string {
	s := "others' CPU "
	if len(l.others) == 0 {
		s += "unknown"
	} else {
		s += harness.Spread(l.others, "%.2f", func(f float64) float64 { return f }) + " cores"
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			s += "; load average " + strings.Join(f[:3], " ")
		}
	}
	return s
}
