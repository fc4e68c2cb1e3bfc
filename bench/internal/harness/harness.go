// Package harness runs rate limiters (redisware's and its peers') on one
// shared Redis client under concurrent load, and counts what each decision
// costs: time, and round trips to Redis. The go test benchmarks and
// cmd/ratebench both drive it, so they measure the same thing.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// AddrEnv names the environment variable holding the Redis address.
const AddrEnv = "REDISWARE_REDIS_ADDR"

// DefaultAddr is the Redis address when AddrEnv is unset.
const DefaultAddr = "127.0.0.1:6379"

// PoolSize is the connection pool size of every client: twice the default
// concurrency, so no decision ever waits for a connection.
const PoolSize = 64

// Limit is the rule every library is given: Rate decisions per Period
// (with a burst of Rate where the library has bursts).
type Limit struct {
	Rate   int
	Period time.Duration
}

// Scenario is a workload: which keys the decisions go to, under which limit.
type Scenario struct {
	// Name is the benchmark name ("many-keys", "flood").
	Name string
	// Limit is the rule of every key.
	Limit Limit
	// Keys is how many distinct keys the decisions cycle through.
	Keys int
	// AllAllowed means every decision must be allowed: a denial (or an
	// error) is a broken limiter, not a fast one.
	AllAllowed bool
}

// Scenarios are the workloads, in table order.
var Scenarios = []Scenario{
	// Every decision allowed: the cost of a Redis round trip per decision.
	{Name: "many-keys", Limit: Limit{Rate: 1_000_000, Period: time.Hour}, Keys: 100_000, AllAllowed: true},
	// One key far over its limit: almost every decision denied.
	{Name: "flood", Limit: Limit{Rate: 100, Period: time.Minute}, Keys: 1},
}

// KeyNames returns the scenario's keys, built once so that building them is
// not part of what is measured.
func (s Scenario) KeyNames() []string {
	names := make([]string, s.Keys)
	for i := range names {
		names[i] = "client-" + strconv.Itoa(i)
	}
	return names
}

// Check reports whether the decisions counted in t over elapsed are what a
// correct limiter answers. In an AllAllowed scenario every decision must be
// allowed and no call may fail (a limiter failing open would look fast).
// Otherwise the answers of the calls that succeeded must admit at least the
// burst (when there were that many decisions; less one per failed call) and
// no more than the burst plus what the rate refilled. Failed calls there are counted for the reader, not judged:
// see Tally.FailedOpen.
func (s Scenario) Check(t Tally, elapsed time.Duration) error {
	if s.AllAllowed {
		if t.Errors > 0 {
			return fmt.Errorf("%s: %d of %d calls failed, first: %w", s.Name, t.Errors, t.Decisions, t.Err)
		}
		if t.Allowed != t.Decisions {
			return fmt.Errorf("%s: %d of %d decisions denied, want none: the limiter is broken", s.Name, t.Decisions-t.Allowed, t.Decisions)
		}
		return nil
	}
	// A failed call may still have consumed its unit in Redis.
	lo := max(0, min(t.Decisions, int64(s.Limit.Rate))-t.Errors)
	refill := int64(float64(s.Limit.Rate)*elapsed.Seconds()/s.Limit.Period.Seconds()) + 1
	hi := (int64(s.Limit.Rate) + refill) * int64(s.Keys)
	if t.Allowed < lo || t.Allowed > hi {
		return fmt.Errorf("%s: %d of %d decisions allowed in %v, want %d to %d", s.Name, t.Allowed, t.Decisions, elapsed.Round(time.Millisecond), lo, hi)
	}
	return nil
}

// Env is one run: its Redis clients, their counters, and the unique prefix
// of every key the run creates.
type Env struct {
	// Addr is the Redis address.
	Addr string
	// RedisVersion is what the server reports.
	RedisVersion string

	run     string // unique per Env, starts every key
	seq     atomic.Int64
	clients map[bool]*redis.Client // by ContextTimeoutEnabled
	counts  map[bool]*redistest.RoundTrips
}

// Open connects to the Redis named by AddrEnv (or DefaultAddr) with two
// clients of identical options but for ContextTimeoutEnabled, each with a
// round-trip counter (redistest.CountRoundTrips). It fails if Redis does
// not answer a PING within a second.
func Open(ctx context.Context) (*Env, error) {
	addr := os.Getenv(AddrEnv)
	if addr == "" {
		addr = DefaultAddr
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	e := &Env{
		Addr:    addr,
		run:     "ratebench:" + hex.EncodeToString(id[:]) + ":",
		clients: map[bool]*redis.Client{},
		counts:  map[bool]*redistest.RoundTrips{},
	}
	for _, ctxTimeout := range []bool{true, false} {
		rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: PoolSize, ContextTimeoutEnabled: ctxTimeout})
		e.clients[ctxTimeout], e.counts[ctxTimeout] = rdb, redistest.CountRoundTrips(rdb)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := e.clients[true].Info(pctx, "server").Result()
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("redis at %s (set %s to change): %w", addr, AddrEnv, err)
	}
	e.RedisVersion = "?"
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			e.RedisVersion = v
		}
	}
	return e, nil
}

// Client returns the shared client a library runs on.
func (e *Env) Client(lib Library) *redis.Client { return e.clients[!lib.NoContextTimeout] }

// Counter returns the round-trip counter of lib's client.
func (e *Env) Counter(lib Library) *redistest.RoundTrips { return e.counts[!lib.NoContextTimeout] }

// Prefix returns a key prefix no other call returns, under the run's own
// prefix; tag is there to help a reader of the keyspace.
func (e *Env) Prefix(tag string) string {
	return e.run + strconv.FormatInt(e.seq.Add(1), 10) + ":" + tag + ":"
}

// Limiter builds lib for scenario s on a fresh prefix.
func (e *Env) Limiter(lib Library, s Scenario, tag string) (Decide, error) {
	return lib.New(e.Client(lib), e.Prefix(lib.Name+":"+s.Name+":"+tag), s.Limit)
}

// Cleanup deletes every key of the run (and only those), found with SCAN.
// It returns how many it deleted.
func (e *Env) Cleanup(ctx context.Context) (int, error) {
	rdb := e.clients[true]
	n := 0
	// redis_rate puts its fixed "rate:" before whatever key it is given.
	for _, pattern := range []string{e.run + "*", RedisRatePrefix + e.run + "*"} {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		batch := make([]string, 0, 1000)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			d, err := rdb.Unlink(ctx, batch...).Result()
			n += int(d)
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return n, err
				}
			}
		}
		if err := errors.Join(iter.Err(), flush()); err != nil {
			return n, err
		}
	}
	return n, nil
}

// DeleteKeys deletes the keys matching any of patterns (SCAN MATCH
// patterns) on the Redis at url (a redis:// URL, which may name a
// database).
func DeleteKeys(ctx context.Context, url string, patterns ...string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	for _, p := range patterns {
		iter := rdb.Scan(ctx, 0, p, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close closes the clients.
func (e *Env) Close() {
	for _, c := range e.clients {
		_ = c.Close()
	}
}

// Tally is what one worker counted.
type Tally struct {
	// Decisions counts every answer, failed calls included.
	Decisions int64
	// Allowed counts the admissions among the answers of calls that
	// succeeded.
	Allowed int64
	// Errors counts failed calls, and FailedOpen those of them that still
	// admitted the request (redisware fails open by default), which is a
	// leak in a flood.
	Errors, FailedOpen int64
	// Err is the first error.
	Err error
}

// Add adds o to t; t keeps its first error.
func (t *Tally) Add(o Tally) {
	t.Decisions += o.Decisions
	t.Allowed += o.Allowed
	t.Errors += o.Errors
	t.FailedOpen += o.FailedOpen
	if t.Err == nil {
		t.Err = o.Err
	}
}

// Worker makes decisions for one goroutine: worker i of n starts at its own
// n-th of the keys and goes round-robin from there, so the goroutines
// spread over the key set.
type Worker struct {
	decide Decide
	keys   []string
	next   int
	Tally
}

// NewWorker returns worker i of n.
func NewWorker(decide Decide, keys []string, i, n int) *Worker {
	return &Worker{decide: decide, keys: keys, next: i * len(keys) / n}
}

// Step makes one decision, and counts it.
func (w *Worker) Step(ctx context.Context) {
	key := w.keys[w.next]
	if w.next++; w.next == len(w.keys) {
		w.next = 0
	}
	allowed, err := w.decide(ctx, key)
	w.Decisions++
	switch {
	case err != nil:
		w.Errors++
		if allowed {
			w.FailedOpen++
		}
		if w.Err == nil {
			w.Err = fmt.Errorf("key %q: %w", key, err)
		}
	case allowed:
		w.Allowed++
	}
}

// Measurement is the outcome of one timed run.
type Measurement struct {
	Tally
	// RoundTrips counts commands and pipelines sent.
	RoundTrips int64
	Elapsed    time.Duration
	// ProcessCPU is the CPU time of this process (user + system) during
	// the run, RedisCPU the server's (from INFO cpu, so it includes any
	// other client of the same server), and MachineCPU the time all the
	// machine's CPUs were busy (from /proc/stat; zero where there is none).
	ProcessCPU, RedisCPU, MachineCPU time.Duration
	// ScriptCalls and ScriptTime are the EVALSHA and EVAL calls the server
	// ran during the run and the time it spent in them (INFO commandstats,
	// so they include any other client's scripts): the scripts' own cost,
	// without the network's.
	ScriptCalls int64
	ScriptTime  time.Duration
}

// ScriptTimePerCall returns the server's time per script call.
func (m Measurement) ScriptTimePerCall() time.Duration {
	if m.ScriptCalls == 0 {
		return 0
	}
	return m.ScriptTime / time.Duration(m.ScriptCalls)
}

// OthersCPU returns how many CPUs, on average, were busy with something
// other than this process and Redis during the run (assuming Redis runs on
// this machine): a measurement taken while others were busy is noise.
// It is negative when unknown.
func (m Measurement) OthersCPU() float64 {
	if m.MachineCPU == 0 {
		return -1
	}
	return max(0, (m.MachineCPU-m.ProcessCPU-m.RedisCPU).Seconds()/m.Elapsed.Seconds())
}

// PerSecond returns decisions per second.
func (m Measurement) PerSecond() float64 { return float64(m.Decisions) / m.Elapsed.Seconds() }

// RoundTripsPerDecision returns round trips per decision.
func (m Measurement) RoundTripsPerDecision() float64 {
	return float64(m.RoundTrips) / float64(m.Decisions)
}

// CPUPerDecision returns the CPU time of this process and of Redis per
// decision.
func (m Measurement) CPUPerDecision() (process, redis time.Duration) {
	if m.Decisions == 0 {
		return 0, 0
	}
	return m.ProcessCPU / time.Duration(m.Decisions), m.RedisCPU / time.Duration(m.Decisions)
}

// Measure runs lib's decide from exactly c goroutines for d, and counts
// decisions, admissions, errors, round trips and CPU time. Errors do not
// stop it; they are counted (see Check).
func (e *Env) Measure(ctx context.Context, lib Library, decide Decide, keys []string, c int, d time.Duration) (Measurement, error) {
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		workers = make([]*Worker, c)
		counter = e.Counter(lib)
	)
	for i := range workers {
		workers[i] = NewWorker(decide, keys, i, c)
	}
	redis0, err := e.RedisStats(ctx)
	if err != nil {
		return Measurement{}, err
	}
	cpu0, machine0 := ProcessCPU(), MachineCPU()
	rt0 := counter.Load()
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for _, w := range workers {
		wg.Go(func() {
			for !stop.Load() {
				w.Step(ctx)
			}
		})
	}
	wg.Wait()
	m := Measurement{
		Elapsed:    time.Since(start),
		RoundTrips: counter.Load() - rt0,
		ProcessCPU: ProcessCPU() - cpu0,
	}
	if machine0 > 0 {
		m.MachineCPU = MachineCPU() - machine0
	}
	redis1, err := e.RedisStats(ctx)
	if err != nil {
		return Measurement{}, err
	}
	m.RedisCPU = redis1.CPU - redis0.CPU
	m.ScriptCalls = redis1.ScriptCalls - redis0.ScriptCalls
	m.ScriptTime = redis1.ScriptTime - redis0.ScriptTime
	for _, w := range workers {
		m.Add(w.Tally)
	}
	return m, nil
}

// RedisStats are a server's counters at one moment.
type RedisStats struct {
	// CPU is the server's CPU time so far (used_cpu_sys + used_cpu_user).
	CPU time.Duration
	// ScriptCalls and ScriptTime count the EVALSHA and EVAL calls so far
	// and the time spent in them.
	ScriptCalls int64
	ScriptTime  time.Duration
}

// redisCPU returns the server's CPU time so far (used_cpu_sys +
// used_cpu_user).
func (e *Env) redisCPU(ctx context.Context) (time.Duration, error) {
	st, err := e.RedisStats(ctx)
	return st.CPU, err
}

// RedisStats reads the server's counters (INFO cpu and commandstats).
func (e *Env) RedisStats(ctx context.Context) (RedisStats, error) {
	info, err := e.clients[true].Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return RedisStats{}, err
	}
	var st RedisStats
	var cpu float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		switch {
		case !ok:
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return RedisStats{}, fmt.Errorf("INFO cpu %s: %w", k, err)
			}
			cpu += f
		case k == "cmdstat_evalsha" || k == "cmdstat_eval":
			// calls=7195808,usec=60348867,usec_per_call=8.39,...
			for _, kv := range strings.Split(v, ",") {
				name, n, _ := strings.Cut(kv, "=")
				x, err := strconv.ParseInt(n, 10, 64)
				switch {
				case name != "calls" && name != "usec":
				case err != nil:
					return RedisStats{}, fmt.Errorf("INFO commandstats %s: %w", k, err)
				case name == "calls":
					st.ScriptCalls += x
				default:
					st.ScriptTime += time.Duration(x) * time.Microsecond
				}
			}
		}
	}
	st.CPU = time.Duration(cpu * float64(time.Second))
	return st, nil
}

// MachineCPU returns the time the machine's CPUs have been busy since boot,
// from the first line of /proc/stat, or zero where there is no such file.
func MachineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		// idle and iowait; guest times are already counted in user.
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	// The kernel reports USER_HZ ticks, 100 a second on Linux.
	return time.Duration(busy) * 10 * time.Millisecond
}

// ProcessCPU returns this process's CPU time so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Warm runs lib on scenario s from c goroutines for d, on keys of its own,
// so that scripts are loaded, connections dialed and code paths hot before
// a measurement; its keys are fresh, so a flood's measured key still starts
// with a full budget.
func (e *Env) Warm(ctx context.Context, lib Library, s Scenario, keys []string, c int, d time.Duration) error {
	decide, err := e.Limiter(lib, s, "warm-up")
	if err != nil {
		return err
	}
	m, err := e.Measure(ctx, lib, decide, keys, c, d)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := s.Check(m.Tally, m.Elapsed); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}
