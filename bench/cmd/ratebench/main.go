// Command ratebench compares redisware's rate limiter with its peers on one
// Redis: for each scenario and library it runs exactly -c goroutines for -d
// after a warm-up, and prints a Markdown table of decisions per second and
// Redis round trips per decision.
//
//	go run ./cmd/ratebench -d 5s
//
// With -rounds n every row is measured n times, the rows taking turns, and
// the table shows the round with the median decisions/s, with the range.
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
	d := flag.Duration("d", 5*time.Second, "how long each scenario × library is measured")
	c := flag.Int("c", 32, "concurrent goroutines making decisions")
	warm := flag.Duration("warmup", time.Second, "warm-up before each measurement, on keys of its own")
	rounds := flag.Int("rounds", 1, "measure every row this many times, taking turns, and show the median")
	flag.Parse()
	if *c < 1 || *d <= 0 || *warm < 0 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "ratebench: -c and -rounds must be at least 1, -d positive, -warmup not negative")
		os.Exit(2)
	}
	if err := run(*d, *c, *warm, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "ratebench:", err)
		os.Exit(1)
	}
}

// row is one scenario × library and its measurements, one per round.
type row struct {
	s   harness.Scenario
	lib harness.Library
	ms  []harness.Measurement
}

func (r *row) name() string { return r.s.Name + "/" + r.lib.Name }

func run(d time.Duration, c int, warm time.Duration, rounds int) (err error) {
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
			rows = append(rows, &row{s: s, lib: lib})
		}
	}
	keys := map[string][]string{}
	for _, s := range harness.Scenarios {
		keys[s.Name] = s.KeyNames()
	}
	var failed, notes []string
	for round := range rounds {
		for _, r := range rows {
			if warm > 0 {
				if err := env.Warm(ctx, r.lib, r.s, keys[r.s.Name], c, warm); err != nil {
					failed = append(failed, r.name()+": "+err.Error())
				}
			}
			decide, err := env.Limiter(r.lib, r.s, "measure")
			if err != nil {
				return fmt.Errorf("%s: %w", r.name(), err)
			}
			m, err := env.Measure(ctx, r.lib, decide, keys[r.s.Name], c, d)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name(), err)
			}
			// Every measurement starts from the same (empty) keyspace.
			if _, err := env.Cleanup(ctx); err != nil {
				return fmt.Errorf("deleting the run's keys: %w", err)
			}
			r.ms = append(r.ms, m)
			if err := r.s.Check(m.Tally, m.Elapsed); err != nil {
				failed = append(failed, r.name()+": "+err.Error())
			}
			if m.Errors > 0 {
				notes = append(notes, fmt.Sprintf("- %s, round %d: %d calls failed, %d of them admitted (failing open); first: %v",
					r.name(), round+1, m.Errors, m.FailedOpen, m.Err))
			}
		}
	}

	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; Redis %s at %s; %d goroutines, %v per row after %v warm-up",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, c, d, warm)
	if rounds > 1 {
		fmt.Printf("; median of %d rounds (range)", rounds)
	}
	fmt.Print("\n\n")
	fmt.Println("| scenario | library | decisions/s | round trips/decision | allowed (count) | failed calls (admitted) | bench CPU µs/decision | Redis CPU µs/decision | others' CPU (cores) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		slices.SortFunc(r.ms, func(a, b harness.Measurement) int {
			return cmp.Compare(a.PerSecond(), b.PerSecond())
		})
		m := r.ms[len(r.ms)/2]
		rate := fmt.Sprintf("%.0f", m.PerSecond())
		if len(r.ms) > 1 {
			rate += fmt.Sprintf(" (%.0f–%.0f)", r.ms[0].PerSecond(), r.ms[len(r.ms)-1].PerSecond())
		}
		proc, srv := m.CPUPerDecision()
		fmt.Printf("| %s | %s | %s | %s | %d of %d | %d (%d) | %.2f | %.2f | %s |\n",
			r.s.Name, r.lib.Name, rate, roundTrips(m), m.Allowed, m.Decisions, m.Errors, m.FailedOpen,
			micros(proc), micros(srv), others(m))
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

// others formats the CPU others used during the measurement.
func others(m harness.Measurement) string {
	if o := m.OthersCPU(); o >= 0 {
		return fmt.Sprintf("%.2f", o)
	}
	return "?"
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
