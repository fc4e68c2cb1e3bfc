// Command sessionbench compares redisware's sessions (core/session behind
// nethttp.Session) with github.com/alexedwards/scs/v2 v2.9 and its go-redis
// store, over HTTP on one Redis: -c clients, each with a session of its
// own, send one request after another for -d per row, after a warm-up.
// It prints a Markdown table of requests per second, Redis round trips per
// request, and the CPU time Redis and this process spent per request.
//
//	go run ./cmd/sessionbench -d 4s -rounds 3
//
// With -rounds n the rows take turns n times (the two libraries in
// alternating order) and the table shows each figure's median with its
// range. Every answer is checked, and every session read back at the end
// of its row: a broken path fails the run instead of looking fast.
package main

import (
	"cmp"
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
	c := flag.Int("c", 32, "clients, each with a session of its own, sending requests at once")
	warm := flag.Duration("warmup", 500*time.Millisecond, "warm-up of each row before it is measured")
	rounds := flag.Int("rounds", 1, "measure every row this many times, taking turns, and show medians")
	only := flag.String("only", "", "measure only the rows whose scenario/library matches this regular expression")
	inProcess := flag.Bool("inprocess", false, "call the app's ServeHTTP directly instead of over HTTP on a loopback listener, so that Redis is the busier side")
	redisOnly := flag.Bool("redisonly", false, "no HTTP, no middleware: send each library's Redis calls for a request in a closed loop, so that Redis is saturated")
	sessionDir := flag.String("session-dir", filepath.Join("..", "core", "session"), "with -redisonly: where core/session's scripts are")
	flag.Parse()
	if *c < 1 || *d <= 0 || *warm < 0 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "sessionbench: -c and -rounds must be at least 1, -d positive, -warmup not negative")
		os.Exit(2)
	}
	if *redisOnly {
		if err := runRedisOnly(*d, *c, *warm, *rounds, *sessionDir); err != nil {
			fmt.Fprintln(os.Stderr, "sessionbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*d, *c, *warm, *rounds, *only, *inProcess); err != nil {
		fmt.Fprintln(os.Stderr, "sessionbench:", err)
		os.Exit(1)
	}
}

// row is one scenario × library and its measurements, one per round.
type row struct {
	s   harness.SessionScenario
	lib harness.SessionLibrary
	ms  []harness.SessionMeasurement
}

func (r *row) name() string { return r.s.Name + "/" + r.lib.Name }

func run(d time.Duration, c int, warm time.Duration, rounds int, only string, inProcess bool) (err error) {
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
		for _, lib := range harness.SessionLibraries {
			if r := (&row{s: s, lib: lib}); match.MatchString(r.name()) {
				rows = append(rows, r)
			}
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("-only %q matches no row", only)
	}
	for round := range rounds {
		order := slices.Clone(rows)
		if round%2 == 1 {
			// The libraries take turns going first within each scenario.
			for i := 0; i+1 < len(order); i += 2 {
				if order[i].s.Name == order[i+1].s.Name {
					order[i], order[i+1] = order[i+1], order[i]
				}
			}
		}
		for _, r := range order {
			m, err := env.MeasureSessions(ctx, r.lib, r.s, c, d, warm, inProcess)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, r.name(), err)
			}
			fmt.Fprintf(os.Stderr, "round %d %-20s %8.0f req/s %.4f rt/req  redis %6.2f µs/req (exec %5.2f)  bench %6.2f µs/req  503s %d  foreign %d  load %.2f\n",
				round+1, r.name(), m.PerSecond(), m.RoundTripsPerRequest(), us(m.PerRequest(m.RedisCPU)), us(m.PerRequest(m.RedisExec)),
				us(m.PerRequest(m.ProcessCPU)), m.Unavailable, m.Foreign, m.Load1)
			r.ms = append(r.ms, m)
		}
	}
	how := "over HTTP (loopback)"
	if inProcess {
		how = "in process (ServeHTTP called directly)"
	}
	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; Redis %s at %s; %d clients %s, %v per row after %v warm-up",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, c, how, d, warm)
	if rounds > 1 {
		fmt.Printf("; median of %d rounds (range)", rounds)
	}
	fmt.Print("\n\n")
	fmt.Println("| scenario | library | requests/s | round trips/request | Redis CPU µs/request | Redis exec µs/request | bench CPU µs/request | 503s | load (1 min) | others' CPU (cores) | foreign calls |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		rt := median(r.ms, func(m harness.SessionMeasurement) float64 { return m.RoundTripsPerRequest() })
		var foreign, unavailable int64
		for _, m := range r.ms {
			foreign += m.Foreign
			unavailable += m.Unavailable
		}
		fmt.Printf("| %s | %s | %s | %.4f | %s | %s | %s | %d | %s | %s | %d |\n", r.s.Name, r.lib.Name,
			spread(r.ms, "%.0f", func(m harness.SessionMeasurement) float64 { return m.PerSecond() }),
			rt[1],
			spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return us(m.PerRequest(m.RedisCPU)) }),
			spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return us(m.PerRequest(m.RedisExec)) }),
			spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return us(m.PerRequest(m.ProcessCPU)) }),
			unavailable,
			spread(r.ms, "%.1f", func(m harness.SessionMeasurement) float64 { return m.Load1 }),
			spread(r.ms, "%.2f", func(m harness.SessionMeasurement) float64 { return m.OthersCPU() }),
			foreign)
	}
	// redisware against scs, per scenario: the ratio of the medians.
	fmt.Println()
	fmt.Println("| scenario | requests/s, redisware ÷ scs | Redis CPU/request, redisware ÷ scs | Redis exec/request, redisware ÷ scs | bench CPU/request, redisware ÷ scs |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, s := range harness.SessionScenarios {
		var rw, sc *row
		for _, r := range rows {
			if r.s.Name == s.Name && r.lib.Name == "redisware" {
				rw = r
			}
			if r.s.Name == s.Name && r.lib.Name == "scs" {
				sc = r
			}
		}
		if rw == nil || sc == nil {
			continue
		}
		ratio := func(f func(harness.SessionMeasurement) float64) string {
			return fmt.Sprintf("%.2f", median(rw.ms, f)[1]/median(sc.ms, f)[1])
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", s.Name,
			ratio(func(m harness.SessionMeasurement) float64 { return m.PerSecond() }),
			ratio(func(m harness.SessionMeasurement) float64 { return us(m.PerRequest(m.RedisCPU)) }),
			ratio(func(m harness.SessionMeasurement) float64 { return us(m.PerRequest(m.RedisExec)) }),
			ratio(func(m harness.SessionMeasurement) float64 { return us(m.PerRequest(m.ProcessCPU)) }))
	}
	var notes []string
	for _, r := range rows {
		for _, m := range r.ms {
			if m.Foreign > 0 {
				notes = append(notes, r.name())
				break
			}
		}
	}
	if len(notes) > 0 {
		fmt.Printf("\nAnother client used the same Redis during %s: its Redis CPU figures count that client's work too.\n", strings.Join(notes, ", "))
	}
	return nil
}

// median returns the smallest, median and largest of f over ms.
func median(ms []harness.SessionMeasurement, f func(harness.SessionMeasurement) float64) [3]float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	slices.SortFunc(v, cmp.Compare[float64])
	mid := v[len(v)/2]
	if len(v)%2 == 0 {
		mid = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return [3]float64{v[0], mid, v[len(v)-1]}
}

// spread formats the median of f over ms, with its range when there are
// several.
func spread(ms []harness.SessionMeasurement, format string, f func(harness.SessionMeasurement) float64) string {
	q := median(ms, f)
	s := fmt.Sprintf(format, q[1])
	if len(ms) > 1 {
		s += " (" + fmt.Sprintf(format, q[0]) + "–" + fmt.Sprintf(format, q[2]) + ")"
	}
	return s
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
