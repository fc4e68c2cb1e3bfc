// Command sessionbench compares redisware's sessions (core/session behind
// nethttp.Session) with github.com/alexedwards/scs/v2 v2.9 and its go-redis
// store, over HTTP on one Redis: -c clients, each with a session of its
// own, send one request after another for -d per row, after a warm-up.
// It prints a Markdown table of requests per second, Redis round trips per
// request, and the CPU time Redis and this process spent per request.
//
//	go run ./cmd/sessionbench -d 4s -rounds 3
//	go run ./cmd/sessionbench -d 3s -rounds 3 -c 1,32,256 -only '/redisware'
//
// With -rounds n the rows take turns n times (the libraries of a scenario
// in alternating order) and the table shows each figure's median with its
// range. -c takes a comma-separated list of client counts, each measured
// as rows of its own; with more than one, a second table compares
// redisware with redisware-autopipeline (the same on the client's
// AutoPipeliner) at each. Every answer is checked, and every session read back at the end
// of its row: a broken path fails the run instead of looking fast.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redisware/redisware/bench/internal/harness"
)

func main() {
	d := flag.Duration("d", 3*time.Second, "how long each row is measured")
	cs := flag.String("c", "32", "clients, each with a session of its own, sending requests at once; a comma-separated list measures each")
	warm := flag.Duration("warmup", 500*time.Millisecond, "warm-up of each row before it is measured")
	rounds := flag.Int("rounds", 1, "measure every row this many times, taking turns, and show medians")
	only := flag.String("only", "", "measure only the rows whose scenario/library matches this regular expression")
	inProcess := flag.Bool("inprocess", false, "call the app's ServeHTTP directly instead of over HTTP on a loopback listener, so that Redis is the busier side")
	redisOnly := flag.Bool("redisonly", false, "no HTTP, no middleware: send each library's Redis calls for a request in a closed loop, so that Redis is saturated")
	sessionDir := flag.String("session-dir", filepath.Join("..", "core", "session"), "with -redisonly: where core/session's scripts are")
	flag.Parse()
	conc, err := harness.ParseConcurrencies(*cs)
	if err != nil || *d <= 0 || *warm < 0 || *rounds < 1 || (*redisOnly && len(conc) > 1) {
		fmt.Fprintln(os.Stderr, "sessionbench: -c must list numbers of at least 1 (only one with -redisonly), -rounds be at least 1, -d positive, -warmup not negative")
		os.Exit(2)
	}
	if *redisOnly {
		if err := runRedisOnly(*d, conc[0], *warm, *rounds, *sessionDir); err != nil {
			fmt.Fprintln(os.Stderr, "sessionbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*d, conc, *warm, *rounds, *only, *inProcess); err != nil {
		fmt.Fprintln(os.Stderr, "sessionbench:", err)
		os.Exit(1)
	}
}

// row is one scenario × clients × library and its measurements, one per
// round.
type row struct {
	s   harness.SessionScenario
	c   int
	lib harness.SessionLibrary
	ms  []harness.SessionMeasurement
}

func (r *row) name() string { return r.s.Name + "/" + r.lib.Name }

func run(d time.Duration, conc []int, warm time.Duration, rounds int, only string, inProcess bool) (err error) {
	ctx := context.Background()
	env, err := harness.OpenSessions(ctx)
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
	match, err := regexp.Compile(only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	var rows []*row
	for _, s := range harness.SessionScenarios {
		for _, c := range conc {
			for _, lib := range harness.SessionLibraries {
				if r := (&row{s: s, c: c, lib: lib}); match.MatchString(r.name()) {
					rows = append(rows, r)
				}
			}
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("-only %q matches no row", only)
	}
	for round := range rounds {
		order := slices.Clone(rows)
		if round%2 == 1 {
			// The libraries of a scenario and client count take turns
			// going first: every other round runs them in reverse.
			for i := 0; i < len(order); {
				j := i + 1
				for j < len(order) && order[j].s.Name == order[i].s.Name && order[j].c == order[i].c {
					j++
				}
				slices.Reverse(order[i:j])
				i = j
			}
		}
		for _, r := range order {
			m, err := env.MeasureSessions(ctx, r.lib, r.s, r.c, d, warm, inProcess)
			if err != nil {
				return fmt.Errorf("round %d, %s (c=%d): %w", round+1, r.name(), r.c, err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-31s c=%-4d %8.0f req/s %.4f rt/req  redis %6.2f µs/req (exec %5.2f)  bench %6.2f µs/req  503s %d  foreign %d  load %.2f\n",
				round+1, r.name(), r.c, m.PerSecond(), m.RoundTripsPerRequest(), harness.Micros(m.PerRequest(m.RedisCPU)), harness.Micros(m.PerRequest(m.RedisExec)),
				harness.Micros(m.PerRequest(m.ProcessCPU)), m.Unavailable, m.Foreign, m.Load1)
			r.ms = append(r.ms, m)
		}
	}
	how := "over HTTP (loopback)"
	if inProcess {
		how = "in process (ServeHTTP called directly)"
	}
	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; Redis %s at %s; %s clients %s, %v per row after %v warm-up",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, strings.Trim(fmt.Sprint(conc), "[]"), how, d, warm)
	if rounds > 1 {
		fmt.Printf("; median of %d rounds (range)", rounds)
	}
	fmt.Print("\n\n")
	fmt.Println("| scenario | library | clients | requests/s | round trips/request | Redis CPU µs/request | Redis exec µs/request | bench CPU µs/request | 503s | load (1 min) | others' CPU (cores) | foreign calls |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		rt := harness.Median(r.ms, func(m harness.SessionMeasurement) float64 { return m.RoundTripsPerRequest() })
		var foreign, unavailable int64
		for _, m := range r.ms {
			foreign += m.Foreign
			unavailable += m.Unavailable
		}
		fmt.Printf("| %s | %s | %d | %s | %.4f | %s | %s | %s | %d | %s | %s | %d |\n", r.s.Name, r.lib.Name, r.c,
			harness.Spread(r.ms, "%.0f", func(m harness.SessionMeasurement) float64 { return m.PerSecond() }),
			rt,
			harness.Spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return harness.Micros(m.PerRequest(m.RedisCPU)) }),
			harness.Spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return harness.Micros(m.PerRequest(m.RedisExec)) }),
			harness.Spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return harness.Micros(m.PerRequest(m.ProcessCPU)) }),
			unavailable,
			harness.Spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return m.Load1 }),
			harness.Spread(r.ms, "%.2f", func(m harness.SessionMeasurement) float64 { return m.OthersCPU() }),
			foreign)
	}
	// redisware against scs, per scenario and client count: the ratio of
	// the medians.
	header := "\n| scenario | clients | requests/s, redisware ÷ scs | Redis CPU/request, redisware ÷ scs | Redis exec/request, redisware ÷ scs | bench CPU/request, redisware ÷ scs |\n|---|---:|---:|---:|---:|---:|\n"
	for _, rw := range rows {
		if rw.lib.Name != harness.PlainLibrary {
			continue
		}
		i := slices.IndexFunc(rows, func(r *row) bool { return r.s.Name == rw.s.Name && r.c == rw.c && r.lib.Name == "scs" })
		if i < 0 {
			continue
		}
		sc := rows[i]
		fmt.Print(header)
		header = ""
		ratio := func(f func(harness.SessionMeasurement) float64) string {
			return fmt.Sprintf("%.2f", harness.Median(rw.ms, f)/harness.Median(sc.ms, f))
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s |\n", rw.s.Name, rw.c,
			ratio(func(m harness.SessionMeasurement) float64 { return m.PerSecond() }),
			ratio(func(m harness.SessionMeasurement) float64 { return harness.Micros(m.PerRequest(m.RedisCPU)) }),
			ratio(func(m harness.SessionMeasurement) float64 { return harness.Micros(m.PerRequest(m.RedisExec)) }),
			ratio(func(m harness.SessionMeasurement) float64 { return harness.Micros(m.PerRequest(m.ProcessCPU)) }))
	}
	if len(conc) > 1 {
		prs := make([]harness.PipelineRow, len(rows))
		for i, r := range rows {
			prs[i] = harness.NewPipelineRow(r.s.Name, r.lib.Name, r.c, r.ms)
		}
		harness.WritePipelineTable(os.Stdout, "clients", "request", prs)
	}
	var notes []string
	for _, r := range rows {
		for _, m := range r.ms {
			if m.Foreign > 0 {
				notes = append(notes, fmt.Sprintf("%s (c=%d)", r.name(), r.c))
				break
			}
		}
	}
	if len(notes) > 0 {
		fmt.Printf("\nAnother client used the same Redis during %s: its Redis CPU figures count that client's work too.\n", strings.Join(notes, ", "))
	}
	return nil
}
