package harness

// Sessions over HTTP: redisware's core/session, mounted with
// nethttp.Session, against github.com/alexedwards/scs/v2 v2.9 with its
// go-redis store (github.com/alexedwards/scs/goredisstore), both on one
// go-redis v9 client. Each of the c clients has a session of its own and
// sends one request after another over keep-alive connections to a real
// loopback listener (httptest.Server); the harness counts the Redis round
// trips and commands the libraries send, the CPU time of this process and
// of Redis, and checks every answer.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/nethttp"
)

// SessionPoolSize is the connection pool of the client both libraries
// share: twice the default concurrency, so no request waits for a
// connection. Every other client setting is go-redis's default but
// ContextTimeoutEnabled, so that deadlines bound socket I/O.
const SessionPoolSize = 64

// Session lifetimes, the same for both libraries: redisware's defaults.
const (
	SessionLifetime    = 24 * time.Hour
	SessionIdleTimeout = 30 * time.Minute
)

// SessionScenario is the request every client sends, over and over.
type SessionScenario struct {
	// Name is the benchmark and table name.
	Name string
	// Doc says what the handler does.
	Doc string
	// target returns the request target of a client's next request.
	target func(c *sessionClient) string
	// answer checks the body of a 200 answer and moves the client's
	// expected state forward.
	answer func(c *sessionClient, body string) error
	// unanswered moves the client's expected state forward after a 503:
	// the change may or may not have been made.
	unanswered func(c *sessionClient)
}

// SessionScenarios are the workloads, in table order.
var SessionScenarios = []SessionScenario{
	{
		Name: "read", Doc: "reads an integer of the session",
		target:     func(*sessionClient) string { return "/read" },
		answer:     func(c *sessionClient, body string) error { return c.counted(body, 0) },
		unanswered: func(*sessionClient) {},
	},
	{
		Name: "put", Doc: "first use of the session is Put of a value",
		target: func(c *sessionClient) string { return "/put?v=" + strconv.FormatInt(c.sent+1, 10) },
		answer: func(c *sessionClient, body string) error {
			c.sent++
			c.last, c.lastMaybe = c.sent, nil
			if body != "ok" {
				return fmt.Errorf("client %d: body %q, want ok", c.id, body)
			}
			return nil
		},
		unanswered: func(c *sessionClient) { c.sent++; c.lastMaybe = append(c.lastMaybe, c.sent) },
	},
	{
		Name: "incr", Doc: "first use of the session adds 1 to an integer: redisware's Incr; scs has none, so GetInt then Put",
		target:     func(*sessionClient) string { return "/incr" },
		answer:     func(c *sessionClient, body string) error { return c.counted(body, 1) },
		unanswered: func(c *sessionClient) { c.slack++ },
	},
	{
		Name: "read+put", Doc: "reads an integer, then Puts it plus 1 (load, change, save: the same code for both)",
		target:     func(*sessionClient) string { return "/rmw" },
		answer:     func(c *sessionClient, body string) error { return c.counted(body, 1) },
		unanswered: func(c *sessionClient) { c.slack++ },
	},
}

// SessionLibrary is a session middleware under test.
type SessionLibrary struct {
	// Name is the benchmark and table name.
	Name string
	// New returns the benchmark's app behind the library's middleware,
	// every key it creates under prefix.
	New func(rdb *redis.Client, prefix string) (http.Handler, error)
}

// SessionLibraries are the middlewares, in table order.
var SessionLibraries = []SessionLibrary{
	{Name: PlainLibrary, New: newRediswareSessions},
	{Name: AutoPipelineLibrary, New: newRediswareSessionsAutoPipeline},
	{Name: "scs", New: newSCSSessions},
}

// The app's routes, the same for every library:
//
//	/seed?n=N  puts n=N, name, theme (a small session), last=0
//	/read      answers n
//	/put?v=V   puts last=V, and loads nothing first
//	/incr      adds 1 to n and answers it
//	/rmw       reads n, puts n+1, answers it
//	/check     answers "n last"

// newRediswareSessions is core/session with its defaults (a 100ms deadline
// per Redis call, strict mode, idle timeout 30 minutes, lifetime 24
// hours, Secure cookies) but for the logger, mounted with nethttp.Session.
func newRediswareSessions(rdb *redis.Client, prefix string) (http.Handler, error) {
	return rediswareSessions(rdb, prefix)
}

// newRediswareSessionsAutoPipeline is newRediswareSessions on the client's
// AutoPipeliner (go-redis v9.23's rdb.AutoPipeline(), its default options),
// which batches the calls of concurrent requests into pipelines. go-redis
// keeps one AutoPipeliner per client, shared by every caller, and closes it
// with the client.
func newRediswareSessionsAutoPipeline(rdb *redis.Client, prefix string) (http.Handler, error) {
	ap, err := rdb.AutoPipeline()
	if err != nil {
		return nil, err
	}
	return rediswareSessions(ap, prefix)
}

func rediswareSessions(rdb redis.UniversalClient, prefix string) (http.Handler, error) {
	m, err := session.New(rdb, session.Options{
		Settings:    core.Settings{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)},
		Lifetime:    SessionLifetime,
		IdleTimeout: SessionIdleTimeout,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		sessionAnswer(w, s.Put("n", n), s.Put("name", "client-"+strconv.FormatInt(n, 10)), s.Put("theme", "dark"), s.Put("last", 0))
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.Load(r.Context()) != nil {
			return // the middleware answers 503
		}
		io.WriteString(w, strconv.FormatInt(s.GetInt64("n"), 10))
	})
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		v, _ := strconv.ParseInt(r.URL.Query().Get("v"), 10, 64)
		sessionAnswer(w, session.FromContext(r.Context()).Put("last", v))
	})
	mux.HandleFunc("GET /incr", func(w http.ResponseWriter, r *http.Request) {
		n, err := session.FromContext(r.Context()).Incr(r.Context(), "n", 1)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	mux.HandleFunc("GET /rmw", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.Load(r.Context()) != nil {
			return
		}
		n := s.GetInt64("n") + 1
		if err := s.Put("n", n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.Load(r.Context()) != nil {
			return
		}
		fmt.Fprintf(w, "%d %d", s.GetInt64("n"), s.GetInt64("last"))
	})
	return nethttp.Session(m)(mux), nil
}

// newSCSSessions is scs v2.9 (its gob codec, LoadAndSave) with
// goredisstore, IdleTimeout and Lifetime as redisware's and Secure
// cookies as redisware's; every other setting its default. scs gives its
// Redis calls no deadline of their own: they run under the request's
// context.
func newSCSSessions(rdb *redis.Client, prefix string) (http.Handler, error) {
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(rdb, prefix)
	sm.Lifetime = SessionLifetime
	sm.IdleTimeout = SessionIdleTimeout
	sm.Cookie.Secure = true
	mux := http.NewServeMux()
	mux.HandleFunc("GET /seed", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		ctx := r.Context()
		sm.Put(ctx, "n", n)
		sm.Put(ctx, "name", "client-"+strconv.FormatInt(n, 10))
		sm.Put(ctx, "theme", "dark")
		sm.Put(ctx, "last", int64(0))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strconv.FormatInt(sm.GetInt64(r.Context(), "n"), 10))
	})
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		v, _ := strconv.ParseInt(r.URL.Query().Get("v"), 10, 64)
		sm.Put(r.Context(), "last", v)
		io.WriteString(w, "ok")
	})
	rmw := func(w http.ResponseWriter, r *http.Request) {
		n := sm.GetInt64(r.Context(), "n") + 1
		sm.Put(r.Context(), "n", n)
		io.WriteString(w, strconv.FormatInt(n, 10))
	}
	mux.HandleFunc("GET /incr", rmw)
	mux.HandleFunc("GET /rmw", rmw)
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d", sm.GetInt64(r.Context(), "n"), sm.GetInt64(r.Context(), "last"))
	})
	return sm.LoadAndSave(mux), nil
}

// sessionAnswer answers ok, or 500 with the first error.
func sessionAnswer(w http.ResponseWriter, errs ...error) {
	if err := errors.Join(errs...); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ok")
}

// SessionEnv is one run: the shared Redis client, its counter, an admin
// client (INFO, SCAN) that is not counted, and the run's key prefix.
type SessionEnv struct {
	// Addr is the Redis address; RedisVersion what the server reports.
	Addr, RedisVersion string
	// Client is the client both libraries run on.
	Client *redis.Client

	admin   *redis.Client
	counter *sessionCounter
	run     string
	seq     atomic.Int64
}

// OpenSessions connects to the Redis named by AddrEnv (or DefaultAddr). It
// fails if Redis does not answer a PING within a second.
func OpenSessions(ctx context.Context) (*SessionEnv, error) {
	addr := os.Getenv(AddrEnv)
	if addr == "" {
		addr = DefaultAddr
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	e := &SessionEnv{
		Addr:    addr,
		Client:  redis.NewClient(&redis.Options{Addr: addr, PoolSize: SessionPoolSize, ContextTimeoutEnabled: true}),
		admin:   redis.NewClient(&redis.Options{Addr: addr}),
		counter: &sessionCounter{},
		run:     "sessionbench:" + hex.EncodeToString(id[:]) + ":",
	}
	e.Client.AddHook(e.counter)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	info, err := e.admin.Info(pctx, "server").Result()
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("redis at %s (set %s to change): %w", addr, AddrEnv, err)
	}
	e.RedisVersion = sessionInfoField(info, "redis_version")
	return e, nil
}

// Close closes the clients.
func (e *SessionEnv) Close() {
	_ = e.Client.Close()
	_ = e.admin.Close()
}

// Prefix returns a key prefix no other call returns, under the run's own.
func (e *SessionEnv) Prefix(tag string) string {
	return e.run + strconv.FormatInt(e.seq.Add(1), 10) + ":" + tag + ":"
}

// Cleanup deletes every key of the run (and only those), found with SCAN,
// and returns how many.
func (e *SessionEnv) Cleanup(ctx context.Context) (int, error) {
	n := 0
	iter := e.admin.Scan(ctx, 0, e.run+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		d, err := e.admin.Unlink(ctx, batch...).Result()
		n += int(d)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, errors.Join(iter.Err(), flush())
}

// sessionCounter is a go-redis hook counting what goes over the wire: one
// round trip per command (ProcessHook) and per pipeline
// (ProcessPipelineHook), and each command by name (so that an EVALSHA
// refused with NOSCRIPT and sent again as EVAL counts two).
type sessionCounter struct {
	roundTrips atomic.Int64
	byName     sync.Map // command name -> *atomic.Int64
}

func (c *sessionCounter) count(name string) {
	v, ok := c.byName.Load(name)
	if !ok {
		v, _ = c.byName.LoadOrStore(name, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *sessionCounter) snapshot() (int64, map[string]int64) {
	out := map[string]int64{}
	c.byName.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return c.roundTrips.Load(), out
}

func (c *sessionCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *sessionCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.roundTrips.Add(1)
		c.count(cmd.Name())
		return next(ctx, cmd)
	}
}

func (c *sessionCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.roundTrips.Add(1)
		for _, cmd := range cmds {
			c.count(cmd.Name())
		}
		return next(ctx, cmds)
	}
}

// redisStats is what INFO says of the server's CPU time and of each
// command: calls, and time spent executing it (µs).
type redisStats struct {
	cpu   time.Duration
	calls map[string]int64
	usec  map[string]int64
}

func (e *SessionEnv) redisStats(ctx context.Context) (redisStats, error) {
	info, err := e.admin.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return redisStats{}, err
	}
	st := redisStats{calls: map[string]int64{}, usec: map[string]int64{}}
	var cpu float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return redisStats{}, fmt.Errorf("INFO cpu %s: %w", k, err)
			}
			cpu += f
		case strings.HasPrefix(k, "cmdstat_"):
			name := k[len("cmdstat_"):]
			for _, kv := range strings.Split(v, ",") {
				f, val, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(val, 10, 64)
				switch f {
				case "calls":
					st.calls[name] = n
				case "usec":
					st.usec[name] = n
				}
			}
		}
	}
	st.cpu = time.Duration(cpu * float64(time.Second))
	return st, nil
}

// SessionMeasurement is the outcome of one timed run of one library on one
// scenario.
type SessionMeasurement struct {
	// Requests counts the answers received and checked in the window,
	// Failures those that were wrong (a status other than 200, a wrong
	// body, a lost session); Err is the first failure.
	Requests, Failures int64
	Err                error
	// Unavailable counts the 503 answers redisware gives when Redis did
	// not answer a call within its deadline (100ms by default), which
	// Requests leaves out: a change so answered may or may not have been
	// made, and the checks accept either.
	Unavailable int64
	// RoundTrips counts the commands and pipelines the library sent;
	// Commands the commands, pipelined ones included.
	RoundTrips, Commands int64
	Elapsed              time.Duration
	// ProcessCPU is this process's CPU time (HTTP server and clients,
	// the library, go-redis), RedisCPU the server's (INFO cpu: it counts
	// any other client of the same server too), MachineCPU the time all
	// the machine's CPUs were busy (/proc/stat; zero where there is none).
	ProcessCPU, RedisCPU, MachineCPU time.Duration
	// RedisExec is the time Redis spent executing the commands the
	// library sent (INFO commandstats: a script with the commands it
	// calls; GET, SET...); it leaves out reading requests, parsing them
	// and writing replies, which RedisCPU counts.
	RedisExec time.Duration
	// Foreign counts the calls, of the commands the library sent, that
	// Redis executed beyond what it sent: another client of the same
	// server was busy, and RedisCPU and RedisExec count its work too.
	Foreign int64
	// Load1 is the machine's one-minute load average at the end.
	Load1 float64
}

// PerSecond returns requests per second.
func (m SessionMeasurement) PerSecond() float64 { return float64(m.Requests) / m.Elapsed.Seconds() }

// PerRequest returns d divided by the requests.
func (m SessionMeasurement) PerRequest(d time.Duration) time.Duration {
	if m.Requests == 0 {
		return 0
	}
	return d / time.Duration(m.Requests)
}

// RoundTripsPerRequest returns round trips per request.
func (m SessionMeasurement) RoundTripsPerRequest() float64 {
	return float64(m.RoundTrips) / float64(m.Requests)
}

// OthersCPU returns how many CPUs, on average, were busy with something
// other than this process and Redis during the run; negative when unknown.
func (m SessionMeasurement) OthersCPU() float64 {
	if m.MachineCPU == 0 {
		return -1
	}
	return max(0, (m.MachineCPU-m.ProcessCPU-m.RedisCPU).Seconds()/m.Elapsed.Seconds())
}

// Check reports whether the run is sound: every answer right, and some.
func (m SessionMeasurement) Check() error {
	switch {
	case m.Failures > 0:
		return fmt.Errorf("%d of %d answers wrong, first: %w", m.Failures, m.Requests, m.Err)
	case m.Requests == 0:
		return errors.New("no request answered")
	}
	return nil
}

// sessionClient is one client: its cookie, and what its session must hold.
// A change answered 503 (redisware's answer when Redis did not answer
// within its deadline) may or may not have been made: the client then
// accepts either outcome, and only those.
type sessionClient struct {
	id        int64
	cookie    string  // the session cookie's value
	n         int64   // the session's n...
	slack     int64   // ...or up to this much more, after increments answered 503
	last      int64   // the session's last...
	lastMaybe []int64 // ...or one of these, put by requests answered 503
	sent      int64   // the last value put
}

// counted checks the body of an answer that says n after adding add to it:
// n plus add, or more by up to the increments answered 503 since the last
// answer. It then knows n again.
func (c *sessionClient) counted(body string, add int64) error {
	got, err := strconv.ParseInt(body, 10, 64)
	if err != nil || got < c.n+add || got > c.n+add+c.slack {
		if c.slack == 0 {
			return fmt.Errorf("client %d: body %q, want %d", c.id, body, c.n+add)
		}
		return fmt.Errorf("client %d: body %q, want %d to %d", c.id, body, c.n+add, c.n+add+c.slack)
	}
	c.n, c.slack = got, 0
	return nil
}

// holds checks what /check answered: "n last".
func (c *sessionClient) holds(body string) error {
	var n, last int64
	if _, err := fmt.Sscanf(body, "%d %d", &n, &last); err != nil {
		return fmt.Errorf("client %d: read back %q: %w", c.id, body, err)
	}
	if n < c.n || n > c.n+c.slack || (last != c.last && !slices.Contains(c.lastMaybe, last)) {
		return fmt.Errorf("client %d: the session holds %q, want n=%d (up to %d more) and last=%d (or one of %v)", c.id, body, c.n, c.slack, c.last, c.lastMaybe)
	}
	return nil
}

// errUnavailable marks redisware's 503: Redis did not answer in time.
var errUnavailable = errors.New("503: sessions unavailable")

// SessionRun is one library serving one scenario: its server, its
// clients, each with a session seeded by NewSessionRun.
type SessionRun struct {
	env     *SessionEnv
	lib     SessionLibrary
	s       SessionScenario
	srv     *httptest.Server // nil in process
	http    *http.Client
	handler http.Handler // in process: the app, called directly
	clients []*sessionClient
}

// NewSessionRun starts lib's app on a loopback listener, under a fresh key
// prefix, and gives each of c clients a session of its own (n = its
// number, and three more values).
//
// With inProcess, the clients call the app's ServeHTTP directly, with a
// recorder, instead of going through net/http and a listener: the same
// middleware and handlers, less CPU time outside Redis per request, so
// that Redis is the busier side.
func (e *SessionEnv) NewSessionRun(ctx context.Context, lib SessionLibrary, s SessionScenario, c int, inProcess bool) (*SessionRun, error) {
	h, err := lib.New(e.Client, e.Prefix(lib.Name+":"+s.Name))
	if err != nil {
		return nil, err
	}
	r := &SessionRun{env: e, lib: lib, s: s}
	if inProcess {
		r.handler = h
	} else {
		r.srv = httptest.NewServer(h)
		r.http = &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				MaxIdleConns: 2 * c, MaxIdleConnsPerHost: 2 * c, DisableCompression: true,
			},
		}
	}
	for i := range c {
		cl := &sessionClient{id: int64(i), n: int64(i)}
		var body string
		var err error
		for try := 0; try < 5; try++ { // after a 503, seed a new session
			if body, err = r.do(ctx, cl, "/seed?n="+strconv.Itoa(i)); !errors.Is(err, errUnavailable) {
				break
			}
		}
		if err == nil && body != "ok" {
			err = fmt.Errorf("seed: body %q", body)
		}
		if err == nil && cl.cookie == "" {
			err = errors.New("seed: no session cookie")
		}
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		r.clients = append(r.clients, cl)
	}
	return r, nil
}

// Close stops the server.
func (r *SessionRun) Close() {
	if r.srv != nil {
		r.srv.Close()
		r.http.CloseIdleConnections()
	}
}

// do sends one request for cl and returns the body of a 200 answer; it
// keeps cl's cookie, and fails if the session cookie is cleared or
// replaced (the session was lost).
func (r *SessionRun) do(ctx context.Context, cl *sessionClient, target string) (string, error) {
	base := "http://in-process"
	if r.srv != nil {
		base = r.srv.URL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+target, nil)
	if err != nil {
		return "", err
	}
	if cl.cookie != "" {
		req.Header.Set("Cookie", "session="+cl.cookie)
	}
	var resp *http.Response
	if r.handler != nil {
		req.RemoteAddr = "127.0.0.1:1"
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		resp = rec.Result()
	} else if resp, err = r.http.Do(req); err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "Sessions are unavailable") {
		return "", errUnavailable
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: status %d: %s", target, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	for _, ck := range resp.Cookies() {
		if ck.Name != "session" {
			continue
		}
		switch {
		case ck.MaxAge < 0 || ck.Value == "":
			return "", fmt.Errorf("%s: the session cookie was cleared", target)
		case cl.cookie != "" && ck.Value != cl.cookie:
			return "", fmt.Errorf("%s: the session cookie changed", target)
		}
		cl.cookie = ck.Value
	}
	return string(body), nil
}

// step sends cl's next request of the scenario and checks the answer.
func (r *SessionRun) step(ctx context.Context, cl *sessionClient) error {
	target := r.s.target(cl)
	body, err := r.do(ctx, cl, target)
	switch {
	case errors.Is(err, errUnavailable):
		r.s.unanswered(cl)
		return err
	case err != nil:
		return fmt.Errorf("client %d: %w", cl.id, err)
	}
	return r.s.answer(cl, body)
}

// Verify reads every client's session back and checks it holds exactly
// what the client's requests made of it: n counts every increment, last
// is the last value put.
func (r *SessionRun) Verify(ctx context.Context) error {
	for _, cl := range r.clients {
		var body string
		var err error
		for try := 0; try < 5; try++ { // a 503 here changes nothing: ask again
			if body, err = r.do(ctx, cl, "/check"); !errors.Is(err, errUnavailable) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("client %d: read back: %w", cl.id, err)
		}
		if err := cl.holds(body); err != nil {
			return err
		}
	}
	return nil
}

// Measure runs every client, each in a goroutine of its own sending one
// request after another, for d, and counts.
func (r *SessionRun) Measure(ctx context.Context, d time.Duration) (SessionMeasurement, error) {
	var stop atomic.Bool
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	return r.measure(ctx, func() bool { return !stop.Load() })
}

// MeasureN is Measure for n requests in all, whatever the time they take
// (go test's b.N).
func (r *SessionRun) MeasureN(ctx context.Context, n int) (SessionMeasurement, error) {
	var left atomic.Int64
	left.Store(int64(n))
	return r.measure(ctx, func() bool { return left.Add(-1) >= 0 })
}

// measure runs the clients while more reports true, and counts.
func (r *SessionRun) measure(ctx context.Context, more func() bool) (SessionMeasurement, error) {
	e := r.env
	var (
		wg          sync.WaitGroup
		requests    = make([]int64, len(r.clients))
		failures    = make([]int64, len(r.clients))
		unavailable = make([]int64, len(r.clients))
		errs        = make([]error, len(r.clients))
	)
	st0, err := e.redisStats(ctx)
	if err != nil {
		return SessionMeasurement{}, err
	}
	rt0, names0 := e.counter.snapshot()
	cpu0, machine0 := ProcessCPU(), MachineCPU()
	start := time.Now()
	for i, cl := range r.clients {
		wg.Go(func() {
			for more() {
				err := r.step(ctx, cl)
				if errors.Is(err, errUnavailable) {
					unavailable[i]++
					continue
				}
				requests[i]++
				if err != nil {
					failures[i]++
					if errs[i] == nil {
						errs[i] = err
					}
					if failures[i] > 100 {
						return // broken: no point hammering
					}
				}
			}
		})
	}
	wg.Wait()
	m := SessionMeasurement{Elapsed: time.Since(start), ProcessCPU: ProcessCPU() - cpu0}
	if machine0 > 0 {
		m.MachineCPU = MachineCPU() - machine0
	}
	rt1, names1 := e.counter.snapshot()
	st1, err := e.redisStats(ctx)
	if err != nil {
		return SessionMeasurement{}, err
	}
	m.RoundTrips = rt1 - rt0
	m.RedisCPU = st1.cpu - st0.cpu
	for name, n := range names1 {
		sent := n - names0[name]
		if sent == 0 {
			continue
		}
		m.Commands += sent
		// A script's time includes the commands it calls, counted under
		// their own names too: only the commands sent are added up.
		m.RedisExec += time.Duration(st1.usec[name]-st0.usec[name]) * time.Microsecond
		if ran := st1.calls[name] - st0.calls[name]; ran > sent {
			m.Foreign += ran - sent
		}
	}
	for i := range r.clients {
		m.Requests += requests[i]
		m.Failures += failures[i]
		m.Unavailable += unavailable[i]
		if m.Err == nil {
			m.Err = errs[i]
		}
	}
	m.Load1 = sessionLoad1()
	return m, nil
}

// Closed runs fn from c goroutines, fn(g) for goroutine g, one call after
// another, for d, and returns how many calls were made, the CPU time Redis
// spent meanwhile (INFO cpu), the time it spent executing the commands
// sent (INFO commandstats) and the time taken. It stops at the first
// error.
func (e *SessionEnv) Closed(ctx context.Context, c int, d time.Duration, fn func(g int) error) (n int64, redisCPU, exec, elapsed time.Duration, err error) {
	st0, err := e.redisStats(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	_, names0 := e.counter.snapshot()
	var (
		stop  atomic.Bool
		calls atomic.Int64
		wg    sync.WaitGroup
		errs  = make([]error, c)
	)
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for g := range c {
		wg.Go(func() {
			for !stop.Load() {
				if errs[g] = fn(g); errs[g] != nil {
					stop.Store(true)
					return
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, 0, 0, err
	}
	_, names1 := e.counter.snapshot()
	st1, err := e.redisStats(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for name, k := range names1 {
		if k > names0[name] {
			exec += time.Duration(st1.usec[name]-st0.usec[name]) * time.Microsecond
		}
	}
	return calls.Load(), st1.cpu - st0.cpu, exec, elapsed, nil
}

// Warm runs the clients for d, so that scripts are loaded, connections
// dialed and code paths hot; its answers are checked too.
func (r *SessionRun) Warm(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	m, err := r.Measure(ctx, d)
	if err != nil {
		return err
	}
	if err := m.Check(); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

// MeasureSessions is one row: lib on s, c clients, warm then d measured,
// every session read back and checked, the row's keys deleted.
func (e *SessionEnv) MeasureSessions(ctx context.Context, lib SessionLibrary, s SessionScenario, c int, d, warm time.Duration, inProcess bool) (SessionMeasurement, error) {
	r, err := e.NewSessionRun(ctx, lib, s, c, inProcess)
	if err != nil {
		return SessionMeasurement{}, err
	}
	defer r.Close()
	if err := r.Warm(ctx, warm); err != nil {
		return SessionMeasurement{}, err
	}
	m, err := r.Measure(ctx, d)
	if err != nil {
		return SessionMeasurement{}, err
	}
	if err := m.Check(); err != nil {
		return m, err
	}
	if err := r.Verify(ctx); err != nil {
		return m, err
	}
	if _, err := e.Cleanup(ctx); err != nil {
		return m, fmt.Errorf("deleting the run's keys: %w", err)
	}
	return m, nil
}

// sessionLoad1 returns the one-minute load average, or -1.
func sessionLoad1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// sessionInfoField returns the value of field in an INFO reply, or "?".
func sessionInfoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return "?"
}
