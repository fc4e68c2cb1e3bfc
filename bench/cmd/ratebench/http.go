package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redisware/redisware/bench/internal/harness"
)

// The HTTP rows measure the reference app (examples/nethttp, examples/gin
// and examples/echo, built from this checkout and run as processes on the
// benchmark's Redis) with a load generator of our own: -c keep-alive
// connections, each sending one GET after another. Two routes are
// compared: GET /healthz, which only the session middleware sees, and GET
// /limited flooded by one client, which the app-wide limiter and the
// route's own limiter answer from their deny caches (429). The app's
// metrics (GET /metrics) show how many answers came from a deny cache.

var (
	httpDB   = flag.Int("http-db", 9, "with -http: the Redis database the apps use (their keys are deleted afterwards)")
	httpApps = flag.String("http-apps", "nethttp,gin,echo", "with -http: the builds of the reference app to measure")
)

// httpRoutes are the routes measured, in table order.
var httpRoutes = []string{"/healthz", "/limited"}

// app is one reference app running as a process.
type app struct {
	name   string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// httpRow is one app × route × concurrency and its measurements.
type httpRow struct {
	app   *app
	route string
	c     int
	ms    []httpMeasurement
}

func (r *httpRow) name() string { return r.app.name + r.route }

// httpMeasurement is the outcome of one timed run of one route.
type httpMeasurement struct {
	requests int64
	status   map[int]int64
	elapsed  time.Duration
	// appCPU is the app process's CPU time, benchCPU the load
	// generator's (this process), redisCPU the server's.
	appCPU, benchCPU, redisCPU time.Duration
	machineCPU                 time.Duration
	// denyHits, failed and redisCalls are the deltas of the app's
	// redisware_ratelimit_deny_cache_hits_total, of its decisions that
	// failed open or closed, and of its Redis calls
	// (redisware_redis_duration_seconds_count).
	denyHits, failed, redisCalls int64
	// bad counts answers that were not what the route must answer; badErr
	// is the first.
	bad    int64
	badErr error
}

func (m httpMeasurement) perSecond() float64 { return float64(m.requests) / m.elapsed.Seconds() }

func (m httpMeasurement) per(d time.Duration) float64 {
	if m.requests == 0 {
		return 0
	}
	return harness.Micros(d) / float64(m.requests)
}

func (m httpMeasurement) others() float64 {
	if m.machineCPU == 0 {
		return -1
	}
	return max(0, (m.machineCPU-m.appCPU-m.benchCPU-m.redisCPU).Seconds()/m.elapsed.Seconds())
}

func runHTTP(d time.Duration, conc []int, warm time.Duration, rounds int, only string) (err error) {
	ctx := context.Background()
	env, err := harness.Open(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ratebench-http-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	redisURL := "redis://" + env.Addr + "/" + strconv.Itoa(*httpDB)
	defer func() {
		if cerr := deleteAppKeys(ctx, redisURL); cerr != nil && err == nil {
			err = cerr
		}
	}()

	var apps []*app
	defer func() {
		for _, a := range apps {
			a.stop()
		}
	}()
	for name := range strings.SplitSeq(*httpApps, ",") {
		bin := filepath.Join(dir, name)
		build := exec.Command("go", "build", "-o", bin, "./examples/"+name)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building examples/%s: %v\n%s", name, err, out)
		}
		a, err := startApp(name, bin, redisURL)
		if err != nil {
			return err
		}
		apps = append(apps, a)
	}

	var rows []*httpRow
	for _, a := range apps {
		for _, route := range httpRoutes {
			for _, c := range conc {
				r := &httpRow{app: a, route: route, c: c}
				if strings.Contains(r.name(), only) {
					rows = append(rows, r)
				}
			}
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("-only %q matches no row", only)
	}
	var failed, notes []string
	load := newLoad()
	for range rounds {
		for _, r := range rows {
			if warm > 0 {
				if _, err := measureHTTP(ctx, env, r.app, r.route, r.c, warm); err != nil {
					return fmt.Errorf("%s warm-up: %w", r.name(), err)
				}
			}
			m, err := measureHTTP(ctx, env, r.app, r.route, r.c, d)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name(), err)
			}
			r.ms = append(r.ms, m)
			load.add(m.others())
			if err := checkHTTP(r, m); err != nil {
				failed = append(failed, fmt.Sprintf("%s (c=%d): %v", r.name(), r.c, err))
			}
			if m.failed > 0 {
				notes = append(notes, fmt.Sprintf("- %s (c=%d), round %d: %d decisions failed open (a Redis call missed its 100 ms deadline)",
					r.name(), r.c, len(r.ms), m.failed))
			}
		}
	}

	fmt.Printf("%s %s/%s, GOMAXPROCS=%d, NumCPU=%d; the reference app's builds as processes, Redis %s at %s (database %d); %v per row after %v warm-up",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		env.RedisVersion, env.Addr, *httpDB, d, warm)
	if rounds > 1 {
		fmt.Printf("; medians of %d rounds (range)", rounds)
	}
	fmt.Printf("; %s\n\n", load)
	fmt.Println("| app | route | connections | requests/s | answers | answered by a deny cache | Redis calls/request | app CPU µs/request | load generator CPU µs/request | Redis CPU µs/request | others' CPU (cores) |")
	fmt.Println("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		m := slices.SortedFunc(slices.Values(r.ms), func(a, b httpMeasurement) int {
			return int(a.perSecond() - b.perSecond())
		})[len(r.ms)/2]
		route := "GET " + r.route
		if r.route == "/limited" {
			route += " (flooded)"
		}
		fmt.Printf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.app.name, route, r.c,
			harness.Spread(r.ms, "%.0f", httpMeasurement.perSecond),
			statuses(m), denyShare(m),
			harness.Spread(r.ms, "%.4f", func(m httpMeasurement) float64 { return float64(m.redisCalls) / float64(max(m.requests, 1)) }),
			harness.Spread(r.ms, "%.1f", func(m httpMeasurement) float64 { return m.per(m.appCPU) }),
			harness.Spread(r.ms, "%.1f", func(m httpMeasurement) float64 { return m.per(m.benchCPU) }),
			harness.Spread(r.ms, "%.2f", func(m httpMeasurement) float64 { return m.per(m.redisCPU) }),
			harness.Spread(r.ms, "%.2f", httpMeasurement.others))
	}
	fmt.Println()
	fmt.Println("| app | connections | flooded /limited ÷ /healthz, requests/s |")
	fmt.Println("|---|---:|---:|")
	for _, a := range apps {
		for _, c := range conc {
			var health, limited *httpRow
			for _, r := range rows {
				if r.app == a && r.c == c {
					switch r.route {
					case "/healthz":
						health = r
					case "/limited":
						limited = r
					}
				}
			}
			if health == nil || limited == nil {
				continue
			}
			// the ratio of each round, as the rounds interleave the routes
			ratios := make([]float64, len(health.ms))
			for i := range ratios {
				ratios[i] = limited.ms[i].perSecond() / health.ms[i].perSecond()
			}
			fmt.Printf("| %s | %d | %s |\n", a.name, c, harness.Spread(ratios, "%.2fx", func(f float64) float64 { return f }))
		}
	}
	if len(notes) > 0 {
		fmt.Printf("\n%s\n", strings.Join(notes, "\n"))
	}
	if len(failed) > 0 {
		return fmt.Errorf("sanity checks failed:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

func statuses(m httpMeasurement) string {
	var codes []int
	for c := range m.status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d × %d", m.status[c], c))
	}
	return strings.Join(parts, ", ")
}

func denyShare(m httpMeasurement) string {
	if m.denyHits == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.2f%%)", m.denyHits, 100*float64(m.denyHits)/float64(m.requests))
}

// checkHTTP reports whether m is what the route must answer, so that a
// broken path fails instead of looking fast: /healthz answers 200 with its
// body every time; a flooded /limited answers 429 with Retry-After and
// the RateLimit fields, lets through no more than its limit of 5 per 10
// seconds, and answers at least 95% of its requests from a deny cache.
// (The rest are Redis calls the app-wide limiter makes for the units it
// refills, 200 a second, two at most for each.)
func checkHTTP(r *httpRow, m httpMeasurement) error {
	if m.bad > 0 {
		return fmt.Errorf("%d of %d answers were wrong; first: %w", m.bad, m.requests, m.badErr)
	}
	switch r.route {
	case "/healthz":
		if m.status[200] != m.requests {
			return fmt.Errorf("answers %s, want only 200", statuses(m))
		}
	case "/limited":
		// 5 per 10 s (a sliding log), over the run and the 10 s before it
		if max := int64(5 * (2 + m.elapsed/(10*time.Second))); m.status[200] > max {
			return fmt.Errorf("%d requests let through in %v, want at most %d", m.status[200], m.elapsed, max)
		}
		if m.status[200]+m.status[429] != m.requests {
			return fmt.Errorf("answers %s, want only 429 and a few 200", statuses(m))
		}
		if 100*m.denyHits < 95*m.status[429] {
			return fmt.Errorf("%d of %d denials answered by a deny cache, want at least 95%%", m.denyHits, m.status[429])
		}
	}
	return nil
}

// measureHTTP floods a's route from c connections for d.
func measureHTTP(ctx context.Context, env *harness.Env, a *app, route string, c int, d time.Duration) (httpMeasurement, error) {
	conns := make([]net.Conn, c)
	for i := range conns {
		conn, err := net.Dial("tcp", a.addr)
		if err != nil {
			return httpMeasurement{}, err
		}
		defer conn.Close()
		conns[i] = conn
	}
	met0, err := a.metrics()
	if err != nil {
		return httpMeasurement{}, err
	}
	redis0, err := env.RedisStats(ctx)
	if err != nil {
		return httpMeasurement{}, err
	}
	app0, bench0, machine0 := a.cpu(), harness.ProcessCPU(), harness.MachineCPU()
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		mu    sync.Mutex
		total = httpMeasurement{status: map[int]int64{}}
		fatal error
	)
	req := []byte("GET " + route + " HTTP/1.1\r\nHost: ratebench\r\nUser-Agent: ratebench\r\n\r\n")
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for _, conn := range conns {
		wg.Go(func() {
			m := httpMeasurement{status: map[int]int64{}}
			br := bufio.NewReaderSize(conn, 4096)
			var err error
			for !stop.Load() {
				if _, err = conn.Write(req); err != nil {
					break
				}
				var code int
				if code, err = readAnswer(br, route); err != nil {
					var w wrong
					if !errors.As(err, &w) {
						break
					}
					if m.bad++; m.badErr == nil {
						m.badErr = err
					}
					err = nil
				}
				m.requests++
				m.status[code]++
			}
			mu.Lock()
			defer mu.Unlock()
			total.requests += m.requests
			for k, v := range m.status {
				total.status[k] += v
			}
			total.bad += m.bad
			if total.badErr == nil {
				total.badErr = m.badErr
			}
			if err != nil && fatal == nil {
				fatal = err
			}
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	total.appCPU, total.benchCPU = a.cpu()-app0, harness.ProcessCPU()-bench0
	if machine0 > 0 {
		total.machineCPU = harness.MachineCPU() - machine0
	}
	if fatal != nil {
		return httpMeasurement{}, fatal
	}
	redis1, err := env.RedisStats(ctx)
	if err != nil {
		return httpMeasurement{}, err
	}
	total.redisCPU = redis1.CPU - redis0.CPU
	met1, err := a.metrics()
	if err != nil {
		return httpMeasurement{}, err
	}
	total.denyHits = met1.denyHits - met0.denyHits
	total.failed = met1.failed - met0.failed
	total.redisCalls = met1.redisCalls - met0.redisCalls
	return total, nil
}

// wrong is an answer that was read whole but is not what the route must
// answer.
type wrong struct{ error }

// readAnswer reads one HTTP/1.1 response from br and checks it against
// what route must answer. It returns its status; a wrong error for an
// answer that is read but wrong, another error when the connection broke.
// It reads the header fields in the canonical form net/http writes them
// (all three builds serve with net/http) and allocates nothing, so that the
// load generator takes as little of the machine as it can.
func readAnswer(br *bufio.Reader, route string) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("status line %q", line)
	}
	code, ok := atoi(line[9:12])
	if !ok {
		return 0, fmt.Errorf("status line %q", line)
	}
	length := -1
	var retryAfter, rateLimit, policy bool
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		switch line[0] {
		case 'C':
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				if length, ok = atoi(bytes.TrimRight(v, "\r\n")); !ok {
					return 0, fmt.Errorf("header line %q", line)
				}
			}
		case 'R':
			switch {
			case bytes.HasPrefix(line, []byte("Retry-After: ")):
				retryAfter = true
			case bytes.HasPrefix(line, []byte("Ratelimit: ")):
				rateLimit = true
			case bytes.HasPrefix(line, []byte("Ratelimit-Policy: ")):
				policy = true
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("%d answer without Content-Length", code)
	}
	body, err := br.Peek(min(length, br.Size()))
	if err != nil {
		return 0, err
	}
	var bad error
	switch {
	case route == "/healthz" && (code != 200 || !bytes.Equal(bytes.TrimSpace(body), []byte(`{"status":"ok"}`))):
		bad = fmt.Errorf("GET /healthz: %d %q", code, body)
	case route == "/limited" && code == 429 && (!retryAfter || !rateLimit || !policy || !bytes.Contains(body, []byte(`"status":429`))):
		bad = fmt.Errorf("GET /limited: a 429 without Retry-After, RateLimit, RateLimit-Policy or its problem body: %q", body)
	case route == "/limited" && code != 429 && code != 200:
		bad = fmt.Errorf("GET /limited: %d %q", code, body)
	}
	if _, err := br.Discard(length); err != nil {
		return 0, err
	}
	if bad != nil {
		return code, wrong{bad}
	}
	return code, nil
}

// atoi parses b, decimal digits only.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// appMetrics are the counters of an app's /metrics that the checks read.
type appMetrics struct {
	denyHits, failed, redisCalls int64
}

// metrics reads a's /metrics.
func (a *app) metrics() (appMetrics, error) {
	resp, err := http.Get("http://" + a.addr + "/metrics")
	if err != nil {
		return appMetrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return appMetrics{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var m appMetrics
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "redisware_ratelimit_deny_cache_hits_total{"):
			dst = &m.denyHits
		case strings.HasPrefix(line, "redisware_ratelimit_decisions_total{") &&
			(strings.Contains(line, `outcome="failed_open"`) || strings.Contains(line, `outcome="failed_closed"`)):
			dst = &m.failed
		case strings.HasPrefix(line, "redisware_redis_duration_seconds_count{"):
			dst = &m.redisCalls
		default:
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return appMetrics{}, fmt.Errorf("GET /metrics: %q: %w", line, err)
		}
		*dst += int64(v)
	}
	return m, sc.Err()
}

// startApp runs bin on a free loopback port against redisURL and waits
// until it serves.
func startApp(name, bin, redisURL string) (*app, error) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "REDIS_URL="+redisURL, "REDIS_CLUSTER_ADDRS=", "REDIS_SENTINEL_ADDRS=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &app{name: name, cmd: cmd, exited: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		defer close(a.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if _, addr, ok := strings.Cut(line, `msg="serving HTTP"`); ok {
				if _, v, ok := strings.Cut(addr, " addr="); ok {
					select {
					case listening <- strings.Fields(v)[0]:
					default:
					}
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case a.addr = <-listening:
		return a, nil
	case <-a.exited:
		return nil, fmt.Errorf("examples/%s exited before serving", name)
	case <-time.After(30 * time.Second):
		a.stop()
		return nil, fmt.Errorf("examples/%s did not serve within 30s", name)
	}
}

// stop ends the app (SIGTERM: it shuts down gracefully).
func (a *app) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(15 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// cpu returns the app's CPU time so far, from /proc/<pid>/stat (user and
// system, in ticks of 10 ms), or zero where there is no such file.
func (a *app) cpu() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(a.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// the fields after the command name, which is in parentheses
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// repoRoot returns the directory of the redisware module this benchmark
// replaces with its checkout (go.mod: replace ... => ../).
func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/redisware/redisware").Output()
	if err != nil {
		return "", fmt.Errorf("finding the redisware checkout: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// deleteAppKeys deletes the rate-limit and session keys the apps made in
// their database (redisware's default prefix), found with SCAN.
func deleteAppKeys(ctx context.Context, redisURL string) error {
	return harness.DeleteKeys(ctx, redisURL, "redisware:rl:*", "redisware:sess:*")
}
