// Command cachebench compares redisware's cache with its peers on one
// Redis: HTTP caching on Gin against github.com/chenyahui/gin-cache, and
// GetOrLoad against github.com/go-redis/cache, hits and misses. For each
// row it runs exactly -c goroutines for -d after a warm-up, and prints a
// Markdown table of requests per second and Redis round trips per request.
//
//	go run ./cmd/cachebench -d 3s -rounds 3
//	go run ./cmd/cachebench -d 3s -rounds 3 -c 1,32,256 -only '/redisware(-autopipeline)?$'
//
// With -rounds n every row is measured n times, the rows taking turns, and
// the table shows the round with the median requests/s, with the range.
// -c takes a comma-separated list of goroutine counts, each measured as
// rows of its own; with more than one, a second table compares redisware
// with redisware-autopipeline (the same on the client's AutoPipeliner) at
// each.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/redisware/redisware/bench/internal/harness"
)

func main() {
	d := flag.Duration("d", 3*time.Second, "how long each row is measured")
	cs := flag.String("c", "32", "concurrent goroutines sending requests; a comma-separated list measures each")
	warm := flag.Duration("warmup", 500*time.Millisecond, "warm-up of each row before it is measured")
	rounds := flag.Int("rounds", 1, "measure every row this many times, taking turns, and show the median")
	only := flag.String("only", "", "measure only the rows whose kind/scenario/library (such as data/hit/redisware) matches this regular expression")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	app := flag.Bool("app", false, "compare GET /cached hits with GET /healthz on the reference app (examples/nethttp) instead")
	repo := flag.String("repo", "..", "with -app: the redisware module to build examples/nethttp from")
	db := flag.Int("db", 14, "with -app: the Redis database the app uses (its keys all expire)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cachebench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	conc, err := harness.ParseConcurrencies(*cs)
	if err != nil || *d <= 0 || *warm < 0 || *rounds < 1 || (*app && len(conc) > 1) {
		fmt.Fprintln(os.Stderr, "cachebench: -c must list numbers of at least 1 (only one with -app), -rounds be at least 1, -d positive, -warmup not negative")
		os.Exit(2)
	}
	runner := func() error { return run(*d, conc, *warm, *rounds, *only) }
	if *app {
		runner = func() error { return runApp(*d, conc[0], *warm, *rounds, *repo, *db) }
	}
	if err := runner(); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "cachebench:", err)
		os.Exit(1)
	}
}

// row is one kind (http or data) × scenario × goroutines × library, with
// its measurements, one per round.
type row struct {
	kind string
	s    harness.CacheScenario
	c    int
	http harness.HTTPLibrary
	data harness.DataLibrary
	ms   []harness.CacheMeasurement
}

func (r *row) lib() string {
	if r.kind == "http" {
		return r.http.Name
	}
	return r.data.Name
}

func (r *row) name() string { return r.kind + "/" + r.s.Name + "/" + r.lib() }

func run(d time.Duration, conc []int, warm time.Duration, rounds int, only string) (err error) {
	ctx := context.Background()
	env, err := harness.Open(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	ce := harness.NewCacheEnv(env)
	defer ce.Close()
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, cerr := env.Cleanup(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("deleting the run's keys: %w", cerr)
		}
	}()
	var rows []*row
	for _, s := range harness.CacheScenarios {
		for _, c := range conc {
			for _, lib := range harness.HTTPLibraries {
				rows = append(rows, &row{kind: "http", s: s, c: c, http: lib})
			}
		}
	}
	for _, s := range harness.CacheScenarios {
		for _, c := range conc {
			for _, lib := range harness.DataLibraries {
				rows = append(rows, &row{kind: "data", s: s, c: c, data: lib})
			}
		}
	}
	match, err := regexp.Compile(only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	rows = slices.DeleteFunc(rows, func(r *row) bool { return !match.MatchString(r.name()) })
	var failed []string
	for range rounds {
		for _, r := range rows {
			m, err := measure(ctx, ce, r, d, warm)
			if err != nil {
				return fmt.Errorf("%s (c=%d): %w", r.name(), r.c, err)
			}
			if _, err := env.Cleanup(ctx); err != nil {
				return fmt.Errorf("deleting the run's keys: %w", err)
			}
			r.ms = append(r.ms, m)
			if err := r.s.Check(m); err != nil {
				failed = append(failed, fmt.Sprintf("%s (c=%d): %v", r.name(), r.c, err))
			}
		}
	}
	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; Redis %s at %s; %s goroutines, %v per row after %v warm-up",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, strings.Trim(fmt.Sprint(conc), "[]"), d, warm)
	if rounds > 1 {
		fmt.Printf("; median of %d rounds (range)", rounds)
	}
	fmt.Print("\n\n")
	fmt.Println("| what | scenario | library | goroutines | requests/s | round trips/request | handler runs | cache failures | bench CPU µs/request | Redis CPU µs/request | others' CPU (cores) |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		slices.SortFunc(r.ms, func(a, b harness.CacheMeasurement) int { return cmp.Compare(a.PerSecond(), b.PerSecond()) })
		m := r.ms[len(r.ms)/2]
		rate := fmt.Sprintf("%.0f", m.PerSecond())
		if len(r.ms) > 1 {
			rate += fmt.Sprintf(" (%.0f–%.0f)", r.ms[0].PerSecond(), r.ms[len(r.ms)-1].PerSecond())
		}
		proc, srv := m.CPUPerRequest()
		others := "?"
		if o := m.OthersCPU(); o >= 0 {
			others = fmt.Sprintf("%.2f", o)
		}
		what := "HTTP (Gin)"
		if r.kind == "data" {
			what = "GetOrLoad"
		}
		fmt.Printf("| %s | %s | %s | %d | %s | %.4f | %d of %d | %d | %.2f | %.2f | %s |\n",
			what, r.s.Name, r.lib(), r.c, rate, m.RoundTripsPerRequest(), m.Executions, m.Requests, m.Failures,
			float64(proc)/float64(time.Microsecond), float64(srv)/float64(time.Microsecond), others)
	}
	if len(conc) > 1 {
		prs := make([]harness.PipelineRow, len(rows))
		for i, r := range rows {
			prs[i] = harness.NewPipelineRow(r.kind+"/"+r.s.Name, r.lib(), r.c, r.ms)
		}
		harness.WritePipelineTable(os.Stdout, "goroutines", "request", prs)
	}
	if len(failed) > 0 {
		return fmt.Errorf("sanity checks failed:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// runApp measures the reference app's routes (harness.AppRoutes) from
// exactly c workers, d each, the routes taking turns, rounds times, after
// a warm-up of each, and prints each route's median with its range and its
// ratio to the first (GET /healthz).
func runApp(d time.Duration, c int, warm time.Duration, rounds int, repo string, db int) error {
	ctx := context.Background()
	env, err := harness.Open(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	app, err := harness.StartApp(ctx, repo, env.Addr, db, c)
	if err != nil {
		return err
	}
	defer app.Close()
	ms := make([][]harness.AppMeasurement, len(harness.AppRoutes))
	var failed []string
	for i := -1; i < rounds; i++ {
		for j, r := range harness.AppRoutes {
			dur := d
			if i < 0 {
				dur = warm // the warm-up round, not counted
			}
			m, err := app.Measure(ctx, env, r, dur)
			if err != nil {
				return err
			}
			if err := m.Check(r); err != nil {
				failed = append(failed, err.Error())
			}
			if i >= 0 {
				ms[j] = append(ms[j], m)
			}
		}
	}
	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; Redis %s at %s (database %d); the app and this load generator in two processes on the same machine; %d workers over HTTP/1.1 keep-alive connections from %d client addresses; %v per round after %v warm-up; median of %d rounds (range)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, db, c, c*harness.AppAddrsPerWorker, d, warm, rounds)
	fmt.Println("| route | requests/s | ratio to /healthz | app CPU µs/request | load generator CPU µs/request | Redis CPU µs/request | cache failures | wrong answers |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	var base float64
	for j, r := range harness.AppRoutes {
		rs := ms[j]
		slices.SortFunc(rs, func(a, b harness.AppMeasurement) int { return cmp.Compare(a.PerSecond(), b.PerSecond()) })
		m := rs[len(rs)/2]
		if j == 0 {
			base = m.PerSecond()
		}
		per := func(t time.Duration) float64 {
			return float64(t) / float64(time.Microsecond) / float64(max(1, m.Requests))
		}
		var bad, bypassed int64
		for _, x := range rs {
			bad += x.Bad
			bypassed += x.Bypassed
		}
		fmt.Printf("| %s | %.0f (%.0f–%.0f) | %.2f | %.1f | %.1f | %.1f | %d | %d |\n", r.Name, m.PerSecond(), rs[0].PerSecond(), rs[len(rs)-1].PerSecond(),
			m.PerSecond()/base, per(m.AppCPU), per(m.LoadCPU), per(m.RedisCPU), bypassed, bad)
	}
	if len(failed) > 0 {
		return fmt.Errorf("sanity checks failed:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// measure builds, warms and measures one row on a fresh prefix.
func measure(ctx context.Context, ce *harness.CacheEnv, r *row, d, warm time.Duration) (harness.CacheMeasurement, error) {
	c := r.c
	if r.kind == "http" {
		run, err := ce.NewHTTPRun(r.http, r.s)
		if err != nil {
			return harness.CacheMeasurement{}, err
		}
		defer run.Close()
		if err := ce.WarmHTTP(ctx, run, c, warm); err != nil {
			return harness.CacheMeasurement{}, err
		}
		return ce.MeasureHTTP(ctx, run, c, d)
	}
	run, err := ce.NewDataRun(r.data, r.s)
	if err != nil {
		return harness.CacheMeasurement{}, err
	}
	defer run.Close()
	if err := ce.WarmData(ctx, run, c, warm); err != nil {
		return harness.CacheMeasurement{}, err
	}
	return ce.MeasureData(ctx, run, c, d)
}
