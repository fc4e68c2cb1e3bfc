// Command rediscost counts what one request of a cache row costs Redis, in
// instructions: it starts its own redis-server under valgrind's callgrind,
// sends the row's requests one at a time (no concurrency, so no batching:
// the same Redis work every run), and prints the server's user-space
// instructions per request, which do not move with the machine's load the
// way requests per second do. See bench/CACHE.md.
//
//	cd bench && go run ./cmd/rediscost -only 'http/miss/(redisware|gin-cache)$'
//
// It needs valgrind (callgrind_control) and redis-server on PATH.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/bench/internal/harness"
)

func main() {
	only := flag.String("only", "http/", "measure the rows whose kind/scenario/library (http/miss/redisware, data/hit/go-redis/cache) matches this regular expression")
	n := flag.Int("n", 2000, "measured requests per row")
	warm := flag.Int("warm", 200, "requests per row before measuring (after a hit row's URLs or keys are stored)")
	flag.Parse()
	re, err := regexp.Compile(*only)
	if err != nil || *n < 1 || *warm < 0 {
		fmt.Fprintln(os.Stderr, "rediscost: -only must be a regular expression, -n at least 1, -warm not negative")
		os.Exit(2)
	}
	if err := run(re, *n, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "rediscost:", err)
		os.Exit(1)
	}
}

// cacheRun is what a harness HTTPRun and DataRun both are: a row's
// request loop and its counts of handler runs, cache failures and wrong
// answers.
type cacheRun interface {
	Stepper(worker, c int) func(i int)
	Executions() int64
	Failures() int64
	Bad() int64
	Close()
}

// candidate is a row that -only may select.
type candidate struct {
	kind, what string // "http", "HTTP (Gin)"; "data", "GetOrLoad"
	s          harness.CacheScenario
	lib        string
	open       func() (cacheRun, error)
}

func run(re *regexp.Regexp, n, warm int) error {
	for _, tool := range []string{"valgrind", "callgrind_control", "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed", tool)
		}
	}
	srv, err := startServer()
	if err != nil {
		return err
	}
	defer func() {
		// some of the harness's connections redial the stopped server: noise
		redis.SetLogger(quiet{})
		srv.stop()
	}()
	if err := os.Setenv(harness.AddrEnv, srv.addr); err != nil {
		return err
	}
	ctx := context.Background()
	env, err := harness.Open(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	ce := harness.NewCacheEnv(env)
	defer ce.Close()
	ce.CallTimeout = 10 * time.Second // a server under valgrind is slow

	fmt.Printf("Redis %s under callgrind; %d requests per row, one at a time, after %d unmeasured; user-space instructions of redis-server per request\n\n", env.RedisVersion, n, warm)
	fmt.Println("| what | scenario | library | instructions/request | handler runs |")
	fmt.Println("|---|---|---|---:|---:|")
	var cands []candidate
	for _, s := range harness.CacheScenarios {
		for _, lib := range harness.HTTPLibraries {
			cands = append(cands, candidate{"http", "HTTP (Gin)", s, lib.Name, func() (cacheRun, error) { return ce.NewHTTPRun(lib, s) }})
		}
		for _, lib := range harness.DataLibraries {
			cands = append(cands, candidate{"data", "GetOrLoad", s, lib.Name, func() (cacheRun, error) { return ce.NewDataRun(lib, s) }})
		}
	}
	matched := 0
	for _, cd := range cands {
		if !re.MatchString(cd.kind + "/" + cd.s.Name + "/" + cd.lib) {
			continue
		}
		r, err := cd.open()
		if err != nil {
			return err
		}
		matched++
		if err := measure(srv, cd, n, warm, r); err != nil {
			return err
		}
	}
	if matched == 0 {
		return fmt.Errorf("-only %q matches no row", re)
	}
	return nil
}

// measure runs r: a hit row's URLs or keys stored and read once, warm
// unmeasured requests, then n counted ones, held to what the row must do: no wrong
// answer, no cache failure, the handler run on every miss and on no hit.
func measure(srv *server, cd candidate, n, warm int, r cacheRun) error {
	defer r.Close()
	s := cd.s
	step := r.Stepper(0, 1)
	// A hit row's first pass over its URLs or keys stores them, its second
	// fills the in-process tier where there is one.
	first := 2*s.Keys + warm
	for i := 0; i < first; i++ {
		step(i)
	}
	// (the first calls under valgrind, while it translates the server's
	// code, may overrun the 100 ms deadline: only the measured requests
	// are held to the checks)
	before, failsBefore, badBefore := r.Executions(), r.Failures(), r.Bad()
	if err := srv.callgrind("-z"); err != nil {
		return err
	}
	if err := srv.callgrind("-i", "on"); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		step(first + i)
	}
	if err := srv.callgrind("-i", "off"); err != nil {
		return err
	}
	total, err := srv.dump()
	if err != nil {
		return err
	}
	runs, want := r.Executions()-before, int64(n)
	if s.Keys > 0 {
		want = 0
	}
	switch {
	case r.Bad() > badBefore:
		err = fmt.Errorf("%d wrong answers", r.Bad()-badBefore)
	case r.Failures() > failsBefore:
		err = fmt.Errorf("%d cache failures", r.Failures()-failsBefore)
	case runs != want:
		err = fmt.Errorf("the handler ran %d times in %d requests, want %d", runs, n, want)
	}
	if err != nil {
		return fmt.Errorf("%s/%s/%s: %w", cd.kind, s.Name, cd.lib, err)
	}
	fmt.Printf("| %s | %s | %s | %.0f | %d of %d |\n", cd.what, s.Name, cd.lib, float64(total)/float64(n), runs, n)
	return nil
}

// quiet is a go-redis logger that writes nothing.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// server is a redis-server under callgrind, instrumentation off.
type server struct {
	addr  string
	dir   string
	cmd   *exec.Cmd
	pid   string
	dumps int
}

func startServer() (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir, err := os.MkdirTemp("", "rediscost-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file="+filepath.Join(dir, "cg"),
		"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid)}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr})
	defer rdb.Close()
	deadline := time.Now().Add(60 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server under valgrind did not answer on %s within 60 s (log in %s)", s.addr, dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s, nil
}

// callgrind runs callgrind_control with args on the server. Valgrind takes
// the command when the server next runs, so the server is sent PINGs (a
// few hundred instructions each, against a row's millions) until the
// command is done.
func (s *server) callgrind(args ...string) error {
	var out strings.Builder
	cmd := exec.Command("callgrind_control", append(args, s.pid)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, PoolSize: 1})
	defer rdb.Close()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("callgrind_control %s: %v: %s", strings.Join(args, " "), err, out.String())
			}
			return nil
		case <-deadline:
			_ = cmd.Process.Kill()
			return fmt.Errorf("callgrind_control %s: no answer in 60 s: %s", strings.Join(args, " "), out.String())
		case <-time.After(20 * time.Millisecond):
			_ = rdb.Ping(context.Background()).Err()
		}
	}
}

// dump writes the counters out and returns the instructions counted since
// they were last zeroed.
func (s *server) dump() (int64, error) {
	if err := s.callgrind("-d"); err != nil {
		return 0, err
	}
	s.dumps++
	f, err := os.Open(filepath.Join(s.dir, "cg."+strconv.Itoa(s.dumps)))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "totals: "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no totals line in %s", f.Name())
}

func (s *server) stop() {
	rdb := redis.NewClient(&redis.Options{Addr: s.addr})
	_ = rdb.ShutdownNoSave(context.Background()).Err()
	_ = rdb.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if os.Getenv("REDISCOST_KEEP") == "" {
		_ = os.RemoveAll(s.dir)
	}
}
