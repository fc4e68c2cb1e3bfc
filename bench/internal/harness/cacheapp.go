package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AppRoute is a route of the reference app measured by the app
// comparison: GET /healthz (no middleware, no Redis) or GET /cached (the
// app-wide rate limit, the session middleware, then the shared cache),
// every request of which must be a hit.
type AppRoute struct {
	// Name is the table name.
	Name string
	// Path is the request path, for /cached without its query.
	Path string
	// Hit says every answer must come from the cache: Cache-Status says
	// hit, and the body is the stored one, byte for byte.
	Hit bool
}

// AppRoutes are the routes of the app comparison, in table order.
var AppRoutes = []AppRoute{{Name: "GET /healthz", Path: "/healthz"}, {Name: "GET /cached (hit)", Path: "/cached", Hit: true}}

// healthzBody is what GET /healthz answers.
const healthzBody = "{\"status\":\"ok\"}\n"

// App is the reference app (examples/nethttp) running as a process of its
// own on the bench's Redis, and the HTTP clients that load it.
type App struct {
	cmd     *exec.Cmd
	base    string
	log     *bytes.Buffer
	clients [][]*http.Client // per worker; each dials from its own address
	next    atomic.Int64     // makes the q of each round's URLs new
}

// AppAddrsPerWorker is how many client addresses (127.1.x.y) each worker
// sends from, in turn: the app limits each address to AppLimitRate
// requests per 10 s on /cached (2,000), so the load is spread over
// workers × AppAddrsPerWorker addresses, each far below it.
const AppAddrsPerWorker = 8

// StartApp builds examples/nethttp from the module at repo, and runs it on
// a free port of 127.0.0.1 against the Redis at addr, database db (its keys
// all expire: rate-limit windows, 30-second cache entries), with c
// workers' clients. It returns once GET /healthz answers.
func StartApp(ctx context.Context, repo, addr string, db, c int) (*App, error) {
	dir, err := os.MkdirTemp("", "cachebench-app")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "refapp")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/nethttp")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building examples/nethttp in %s: %w\n%s", repo, err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listen := ln.Addr().String()
	_ = ln.Close()
	a := &App{base: "http://" + listen, log: &bytes.Buffer{}}
	a.cmd = exec.Command(bin, "-addr", listen)
	a.cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+addr+"/"+strconv.Itoa(db))
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	for w := 0; w < c; w++ {
		var cs []*http.Client
		for k := 0; k < AppAddrsPerWorker; k++ {
			n := w*AppAddrsPerWorker + k + 1
			local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(n>>8), byte(n))}
			d := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
			cs = append(cs, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				DialContext:         d.DialContext,
				MaxIdleConnsPerHost: 1,
				DisableCompression:  true,
			}})
		}
		a.clients = append(a.clients, cs)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, body, _, err := a.get(ctx, a.clients[0][0], "/healthz"); err == nil && status == 200 && body == healthzBody {
			return a, nil
		}
		if time.Now().After(deadline) || a.cmd.ProcessState != nil {
			a.Close()
			return nil, fmt.Errorf("the reference app did not answer GET /healthz within 30 s:\n%s", a.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the app.
func (a *App) Close() {
	if a.cmd.Process != nil {
		_ = a.cmd.Process.Kill()
		_ = a.cmd.Wait()
	}
	for _, cs := range a.clients {
		for _, c := range cs {
			c.CloseIdleConnections()
		}
	}
}

// get sends GET path and returns the status, the body and Cache-Status.
func (a *App) get(ctx context.Context, c *http.Client, path string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, "", "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Cache-Status"), err
}

// AppMeasurement is one timed run of one route.
type AppMeasurement struct {
	// Requests is how many requests were answered; Bad how many of them
	// were not what the route must answer (see AppRoute), First the first
	// such answer; Bypassed how many the cache answered from the handler
	// because Redis failed (Cache-Status fwd=bypass, a deadline passed,
	// say): they are not counted as wrong, and run the handler.
	Requests, Bad, Bypassed int64
	First                   string
	// Elapsed is the measured time.
	Elapsed time.Duration
	// AppCPU is the app process's CPU time, LoadCPU this process's (the
	// load generator), RedisCPU the server's.
	AppCPU, LoadCPU, RedisCPU time.Duration
}

// PerSecond returns requests per second.
func (m AppMeasurement) PerSecond() float64 { return float64(m.Requests) / m.Elapsed.Seconds() }

// Check fails a run that answered wrongly or not at all.
func (m AppMeasurement) Check(r AppRoute) error {
	switch {
	case m.Requests == 0:
		return fmt.Errorf("%s: no request answered", r.Name)
	case m.Bad > 0:
		return fmt.Errorf("%s: %d of %d answers wrong, first: %s", r.Name, m.Bad, m.Requests, m.First)
	}
	return nil
}

// appKeys is how many URLs of /cached each round cycles through.
const appKeys = 200

// Measure runs route r from every worker for d. For /cached it first
// stores appKeys new URLs (the entries are fresh for 30 seconds, so every
// round stores its own), then every request must be a hit that answers
// the stored bytes.
func (a *App) Measure(ctx context.Context, e *Env, r AppRoute, d time.Duration) (AppMeasurement, error) {
	paths := []string{r.Path}
	want := []string{healthzBody}
	if r.Hit {
		round := a.next.Add(1)
		paths, want = paths[:0], want[:0]
		for i := 0; i < appKeys; i++ {
			p := fmt.Sprintf("%s?q=r%dk%d", r.Path, round, i)
			status, body, cs, err := a.get(ctx, a.clients[0][0], p)
			if err != nil || status != 200 || !strings.Contains(cs, "stored") {
				return AppMeasurement{}, fmt.Errorf("%s: storing %s: %d %q (Cache-Status %q), %v", r.Name, p, status, body, cs, err)
			}
			paths, want = append(paths, p), append(want, body)
		}
	}
	var m AppMeasurement
	var first atomic.Pointer[string]
	var requests, bad, bypassed atomic.Int64
	rcpu0, err := e.redisCPU(ctx)
	if err != nil {
		return m, err
	}
	acpu0, lcpu0 := pidCPU(a.cmd.Process.Pid), ProcessCPU()
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for w, cs := range a.clients {
		wg.Go(func() {
			n := int64(0)
			for i := w * 7; !stop.Load(); i++ {
				k := i % len(paths)
				status, body, cache, err := a.get(ctx, cs[i%len(cs)], paths[k])
				n++
				if r.Hit && err == nil && status == 200 && strings.Contains(cache, "fwd=bypass; detail=redis-unavailable") {
					bypassed.Add(1)
					continue
				}
				if err != nil || status != 200 || body != want[k] || r.Hit && !strings.Contains(cache, "; hit") {
					if bad.Add(1) == 1 {
						s := fmt.Sprintf("GET %s: %d %q (Cache-Status %q), %v", paths[k], status, body, cache, err)
						first.Store(&s)
					}
				}
			}
			requests.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	m.Elapsed = time.Since(start)
	m.Requests, m.Bad, m.Bypassed = requests.Load(), bad.Load(), bypassed.Load()
	if s := first.Load(); s != nil {
		m.First = *s
	}
	m.AppCPU, m.LoadCPU = pidCPU(a.cmd.Process.Pid)-acpu0, ProcessCPU()-lcpu0
	rcpu1, err := e.redisCPU(ctx)
	if err != nil {
		return m, err
	}
	m.RedisCPU = rcpu1 - rcpu0
	return m, nil
}

// pidCPU returns the CPU time of process pid so far (utime + stime of
// /proc/<pid>/stat), or 0 when unknown.
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ticks int64
	for _, v := range f[11:13] { // utime, stime
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}
