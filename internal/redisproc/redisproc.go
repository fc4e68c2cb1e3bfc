// Package redisproc starts real redis-server processes for redisware's own
// tests: a standalone server with any arguments (Start), a Redis Cluster
// of masters with replicas (StartCluster), and a master with one replica
// watched by three sentinels (StartSentinel). The tests that need them
// prove what no miniredis can: a master killed under load, a replica
// promoted, slots migrating, a server out of memory.
//
// Every process listens on 127.0.0.1, on a port picked from 21000-29999
// (below the kernel's ephemeral range, 32768-60999, where an outgoing
// connection could already hold it), and keeps its files in a directory of
// t.TempDir(). A process is stopped by the PID this package started, never
// by name, and t.Cleanup stops every one, whether the test passed or
// failed; a failed test's log shows the tail of each server's log. The
// processes are also killed if the test binary dies, so none outlives it.
//
// Starting servers is opt-in, so that `go test ./...` stays fast on a bare
// machine and the whole-suite runs of CI do not start them once per
// topology: Gate (which every Start function calls first) skips the test
// unless REDISWARE_PROCS=1. When it is set and redis-server or redis-cli
// is not on PATH, the test is skipped too, or fails when
// REDISWARE_PROCS_REQUIRED=1, as CI sets it, so a broken machine never
// passes by skipping.
package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvProcs names the environment variable that lets tests start Redis
// processes: "1" runs them, anything else skips them.
const EnvProcs = "REDISWARE_PROCS"

// EnvRequired names the environment variable that turns a missing
// redis-server or redis-cli from a skip into a failure: "1" fails.
const EnvRequired = "REDISWARE_PROCS_REQUIRED"

// The port range processes listen in: below the ephemeral range.
const (
	minPort = 21000
	maxPort = 29999
)

// startTimeout bounds the wait for one server to answer PING.
const startTimeout = 15 * time.Second

// Gate skips t unless EnvProcs is "1". With it set, it checks that
// redis-server and redis-cli are on PATH: when one is missing it skips t,
// or fails it when EnvRequired is "1".
func Gate(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvProcs) != "1" {
		t.Skipf("starts redis-server processes; set %s=1 to run it", EnvProcs)
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv(EnvRequired) == "1" {
				t.Fatalf("%s=1 but %s is not on PATH: %v", EnvRequired, bin, err)
			}
			t.Skipf("%s is not on PATH (set %s=1 to make that a failure)", bin, EnvRequired)
		}
	}
}

// Server is one redis-server (or sentinel) process this package started.
type Server struct {
	// Addr is "127.0.0.1:<Port>".
	Addr string
	// Port is the client port.
	Port int
	// BusPort is the cluster bus port of a Cluster node; 0 otherwise.
	BusPort int
	// Dir is the server's working directory: its config, data and
	// redis.log.
	Dir string

	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and was reaped

	mu     sync.Mutex
	client *redis.Client
}

// PID returns the process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL, as a crash or an OOM killer would, and waits until
// the process is gone. Calling it on a dead server does nothing.
func (s *Server) Kill() {
	if !s.Alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop sends SIGCONT and SIGTERM, and SIGKILL if the process has not
// exited 5 seconds later; it waits until the process is gone.
func (s *Server) Stop() {
	if !s.Alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.Kill()
	}
}

// Client returns a client connected straight to this server (not through
// a Cluster or Sentinel), for checks and set-up: no retries, 2 s
// timeouts. It is made on first use and closed when the test ends.
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = direct(s.Addr)
		c := s.client
		s.t.Cleanup(func() { _ = c.Close() })
	}
	return s.client
}

// direct returns a client on addr alone, for control commands.
func direct(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, MaxRetries: -1, PoolSize: 4})
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Info returns the named section of INFO as a map of its fields.
func (s *Server) Info(ctx context.Context, section string) (map[string]string, error) {
	text, err := s.Client().Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return ParseInfo(text), nil
}

// ParseInfo turns the text of INFO into a map of its "field:value" lines.
func ParseInfo(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// ports hands out loopback ports, never the same twice in one process.
var ports struct {
	sync.Mutex
	given map[int]bool
	next  int
}

// freePort returns a port in [minPort, maxPort] that nothing listens on
// now and that this process has not handed out before. Another process
// may still take it before the server binds it: start retries then.
func freePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
		ports.next = minPort + rand.IntN(maxPort-minPort+1)
	}
	for range maxPort - minPort + 1 {
		p := ports.next
		ports.next++
		if ports.next > maxPort {
			ports.next = minPort
		}
		if ports.given[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		ports.given[p] = true
		return p, nil
	}
	return 0, errors.New("redisproc: no free port in 21000-29999")
}

// errBusy is why a start is retried on fresh ports.
var errBusy = errors.New("address already in use")

// Start runs a standalone redis-server on a free port with args (such as
// "--maxmemory", "2mb") after this package's own (--bind 127.0.0.1, no
// persistence, its directory and log file), so args can override them;
// it waits until the server answers PING. The test fails if the server
// cannot start; t.Cleanup stops it.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	Gate(t)
	return startNode(t, false, func(port, _ int) []string { return append(serverArgs(port), args...) })
}

// serverArgs are the arguments of every data node.
func serverArgs(port int) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log",
		// A replica syncs at once, not 5 s after it asks.
		"--repl-diskless-sync-delay", "0"}
}

// startNode starts one process whose arguments args builds from its port
// (and its bus port when bus is set), retrying on fresh ports when another
// process took one first.
func startNode(t testing.TB, bus bool, args func(port, busPort int) []string) *Server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		busPort := 0
		if bus {
			if busPort, err = freePort(); err != nil {
				t.Fatal(err)
			}
		}
		s, err := launch(t, port, busPort, args(port, busPort))
		if errors.Is(err, errBusy) && attempt < 5 {
			t.Logf("redisproc: port %d or %d was taken; trying others", port, busPort)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// launch starts redis-server with args in a fresh directory and waits for
// PING, checking that the answering server is the process it started.
func launch(t testing.TB, port, busPort int, args []string) (*Server, error) {
	dir := filepath.Join(t.TempDir(), strconv.Itoa(port))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies (a panic, a -timeout), the server dies too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("redisproc: starting redis-server: %w", err)
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, BusPort: busPort, Dir: dir,
		t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redisproc: last lines of the log of %s (pid %d):\n%s", s.Addr, s.PID(), s.LogTail(15))
		}
		s.Stop()
	})
	c := direct(s.Addr)
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		if !s.Alive() {
			log := s.LogTail(20)
			if strings.Contains(log, "Address already in use") {
				return nil, errBusy
			}
			return nil, fmt.Errorf("redisproc: redis-server %s exited at start:\n%s", strings.Join(args, " "), log)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		text, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil {
			if pid := ParseInfo(text)["process_id"]; pid != strconv.Itoa(s.PID()) {
				// Another process's server answers on the port we picked.
				s.Kill()
				return nil, errBusy
			}
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return nil, fmt.Errorf("redisproc: redis-server on %s did not answer within %v: %v\n%s", s.Addr, startTimeout, err, s.LogTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Poll calls check every 20 ms until it returns nil, and fails t with its
// last error if that has not happened within timeout.
func Poll(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redisproc: %s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
