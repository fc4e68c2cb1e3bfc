package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ginc "github.com/chenyahui/gin-cache"
	ginpersist "github.com/chenyahui/gin-cache/persist"
	"github.com/gin-gonic/gin"
	grcache "github.com/go-redis/cache/v9"
	redisv8 "github.com/go-redis/redis/v8"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/ginmw"
)

// CacheScenario is a cache workload.
type CacheScenario struct {
	// Name is "hit" (every request finds its response stored) or "miss"
	// (every request is for a URL or key never seen).
	Name string
	// Keys is how many URLs or keys the hits cycle through (0 for miss).
	Keys int
}

// CacheScenarios are the cache workloads, in table order.
var CacheScenarios = []CacheScenario{{Name: "hit", Keys: 1000}, {Name: "miss"}}

// HTTPLibrary is one HTTP cache for Gin under test.
type HTTPLibrary struct {
	// Name is the benchmark and table name.
	Name string
	// New returns the library's middleware storing under prefix, counting
	// its failures in fails; close releases what it holds.
	New func(env *CacheEnv, prefix string, fails *atomic.Int64) (mw gin.HandlerFunc, close func(), err error)
	// V8 says the library runs on the go-redis v8 client (gin-cache v1.10.0
	// does), whose round trips are counted by Env.V8Counter.
	V8 bool
}

// HTTPLibraries are the HTTP caches, in table order.
var HTTPLibraries = []HTTPLibrary{
	{Name: PlainLibrary, New: newRediswareHTTP(rediswareRow{})},
	{Name: "redisware-local", New: newRediswareHTTP(rediswareRow{local: 64 << 20})},
	{Name: "redisware-nowait", New: newRediswareHTTP(rediswareRow{wait: -1})},
	{Name: AutoPipelineLibrary, New: newRediswareHTTP(rediswareRow{autoPipeline: true})},
	{Name: "gin-cache", New: newGinCache, V8: true},
}

// DataLibrary is one cache-aside library under test.
type DataLibrary struct {
	// Name is the benchmark and table name.
	Name string
	// New returns a get-or-load function storing under prefix.
	New func(env *CacheEnv, prefix string, fails *atomic.Int64) (get GetOrLoad, close func(), err error)
}

// GetOrLoad returns the value of key, loading it with load on a miss.
type GetOrLoad func(ctx context.Context, key string, load func() ([]byte, error)) ([]byte, error)

// DataLibraries are the cache-aside libraries, in table order.
var DataLibraries = []DataLibrary{
	{Name: PlainLibrary, New: newRediswareData(rediswareRow{})},
	{Name: "redisware-local", New: newRediswareData(rediswareRow{local: 64 << 20})},
	{Name: "redisware-nowait", New: newRediswareData(rediswareRow{wait: -1})},
	{Name: AutoPipelineLibrary, New: newRediswareData(rediswareRow{autoPipeline: true})},
	{Name: "go-redis/cache", New: newGoRedisCache(false)},
	{Name: "go-redis/cache-local", New: newGoRedisCache(true)},
}

// cacheTTL is how long every library keeps what it stores.
const cacheTTL = time.Hour

// rediswareRow is what a redisware row changes of core/httpcache's
// defaults (see rediswareCache).
type rediswareRow struct {
	// local is LocalBytes, the in-process tier.
	local int64
	// wait is WaitTimeout: -1 for no cross-instance collapsing.
	wait time.Duration
	// autoPipeline runs the cache on the client's AutoPipeliner.
	autoPipeline bool
}

// rediswareCache is core/httpcache with its defaults (a 100ms deadline per
// call, misses collapsed across instances with a fill lock taken by the
// lookup and released by the store, telemetry on through the global
// OpenTelemetry providers) but for the prefix, the failure counting and
// what row changes: the in-process tier, no cross-instance collapsing, or
// the shared client's AutoPipeliner (go-redis v9.23's rdb.AutoPipeline(),
// its default options) instead of the client. closeFn closes the cache, then
// the AutoPipeliner.
func rediswareCache(env *CacheEnv, prefix string, row rediswareRow, fails *atomic.Int64) (c *httpcache.Cache, closeFn func(), err error) {
	var client redis.UniversalClient = env.clients[true]
	closeClient := func() {}
	if row.autoPipeline {
		ap, err := env.clients[true].AutoPipeline()
		if err != nil {
			return nil, nil, err
		}
		client, closeClient = ap, func() { _ = ap.Close() }
	}
	c, err = httpcache.New(client, httpcache.Options{
		Settings: core.Settings{
			Prefix:  prefix,
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnError: func(context.Context, error) { fails.Add(1) },
			Timeout: env.CallTimeout,
		},
		LocalBytes:  row.local,
		WaitTimeout: row.wait,
	})
	if err != nil {
		closeClient()
		return nil, nil, err
	}
	closeFn = func() {
		_ = c.Close()
		closeClient()
	}
	if err := waitLocal(c, row.local); err != nil {
		closeFn()
		return nil, nil, err
	}
	return c, closeFn, nil
}

func newRediswareHTTP(row rediswareRow) func(env *CacheEnv, prefix string, fails *atomic.Int64) (gin.HandlerFunc, func(), error) {
	return func(env *CacheEnv, prefix string, fails *atomic.Int64) (gin.HandlerFunc, func(), error) {
		c, closeFn, err := rediswareCache(env, prefix, row, fails)
		if err != nil {
			return nil, nil, err
		}
		return ginmw.HTTPCache(c), closeFn, nil
	}
}

// newGinCache is github.com/chenyahui/gin-cache v1.10.0 with its Redis
// store (go-redis v8), caching by request URI for cacheTTL, as its README
// shows.
func newGinCache(env *CacheEnv, prefix string, fails *atomic.Int64) (gin.HandlerFunc, func(), error) {
	store := ginpersist.NewRedisStore(env.V8Client())
	return ginc.CacheByRequestURI(store, cacheTTL, ginc.WithPrefixKey(prefix)), func() {}, nil
}

func newRediswareData(row rediswareRow) func(env *CacheEnv, prefix string, fails *atomic.Int64) (GetOrLoad, func(), error) {
	return func(env *CacheEnv, prefix string, fails *atomic.Int64) (GetOrLoad, func(), error) {
		c, closeFn, err := rediswareCache(env, prefix, row, fails)
		if err != nil {
			return nil, nil, err
		}
		get := func(ctx context.Context, key string, load func() ([]byte, error)) ([]byte, error) {
			return c.GetOrLoad(ctx, key, cacheTTL, func(context.Context) ([]byte, error) { return load() })
		}
		return get, closeFn, nil
	}
}

// newGoRedisCache is github.com/go-redis/cache/v9 v9.0.0 on the shared v9
// client, with Once (its get-or-load, with singleflight); local adds its
// TinyLFU in-process tier (10,000 items for a minute), as its README shows.
func newGoRedisCache(local bool) func(env *CacheEnv, prefix string, fails *atomic.Int64) (GetOrLoad, func(), error) {
	return func(env *CacheEnv, prefix string, fails *atomic.Int64) (GetOrLoad, func(), error) {
		opts := &grcache.Options{Redis: env.clients[true]}
		if local {
			opts.LocalCache = grcache.NewTinyLFU(10000, time.Minute)
		}
		c := grcache.New(opts)
		get := func(ctx context.Context, key string, load func() ([]byte, error)) ([]byte, error) {
			var v []byte
			err := c.Once(&grcache.Item{Ctx: ctx, Key: prefix + key, Value: &v, TTL: cacheTTL,
				Do: func(*grcache.Item) (any, error) { return load() }})
			return v, err
		}
		return get, func() {}, nil
	}
}

// CacheEnv is an Env with what the cache libraries need besides: a go-redis
// v8 client (gin-cache v1.10.0 runs on v8) with its round-trip counter.
type CacheEnv struct {
	*Env
	// CallTimeout is the redisware rows' Settings.Timeout; 0 keeps the
	// default (100 ms). cmd/rediscost raises it: its Redis runs under
	// valgrind, tens of times slower.
	CallTimeout time.Duration
	v8          *redisv8.Client
	v8count     *V8Counter
}

// NewCacheEnv returns e with a v8 client on the same Redis, with the same
// pool size as the v9 clients.
func NewCacheEnv(e *Env) *CacheEnv {
	ce := &CacheEnv{Env: e, v8: redisv8.NewClient(&redisv8.Options{Addr: e.Addr, PoolSize: PoolSize}), v8count: &V8Counter{}}
	ce.v8.AddHook(ce.v8count)
	return ce
}

// Close closes the v8 client; the Env is the caller's to close.
func (e *CacheEnv) Close() { _ = e.v8.Close() }

// V8Client returns the go-redis v8 client.
func (e *CacheEnv) V8Client() *redisv8.Client { return e.v8 }

// waitLocal waits up to 5 seconds for c's in-process tier, when it has one.
func waitLocal(c *httpcache.Cache, local int64) error {
	for deadline := time.Now().Add(5 * time.Second); local > 0 && !c.LocalReady(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("the in-process tier did not start within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// V8Counter counts the round trips of a go-redis v8 client, as redistest.RoundTrips
// does for v9.
type V8Counter struct{ n atomic.Int64 }

// RoundTrips returns the round trips counted so far.
func (c *V8Counter) RoundTrips() int64 { return c.n.Load() }

// BeforeProcess implements redisv8.Hook.
func (c *V8Counter) BeforeProcess(ctx context.Context, _ redisv8.Cmder) (context.Context, error) {
	c.n.Add(1)
	return ctx, nil
}

// AfterProcess implements redisv8.Hook.
func (c *V8Counter) AfterProcess(context.Context, redisv8.Cmder) error { return nil }

// BeforeProcessPipeline implements redisv8.Hook.
func (c *V8Counter) BeforeProcessPipeline(ctx context.Context, _ []redisv8.Cmder) (context.Context, error) {
	c.n.Add(1)
	return ctx, nil
}

// AfterProcessPipeline implements redisv8.Hook.
func (c *V8Counter) AfterProcessPipeline(context.Context, []redisv8.Cmder) error { return nil }

// RoundTrips returns the round trips so far of the v8 client, or of the
// shared v9 client.
func (e *CacheEnv) RoundTrips(v8 bool) int64 {
	if v8 {
		return e.v8count.RoundTrips()
	}
	return e.counts[true].Load()
}

// CacheMeasurement is the outcome of one timed cache run.
type CacheMeasurement struct {
	// Requests is how many requests (or GetOrLoad calls) were answered.
	Requests int64
	// Executions is how many times the handler (or loader) ran.
	Executions int64
	// Failures counts reported cache failures (redisware's OnError) and
	// wrong answers.
	Failures int64
	// RoundTrips is how many Redis round trips were made.
	RoundTrips int64
	// Elapsed is the measured time.
	Elapsed time.Duration
	// ProcessCPU is the benchmark process's CPU time; RedisCPU the
	// server's; MachineCPU every CPU's busy time (zero when unknown).
	ProcessCPU, RedisCPU, MachineCPU time.Duration
}

// OthersCPU returns how many CPUs, on average, were busy with something
// other than this process and Redis during the run; negative when unknown.
func (m CacheMeasurement) OthersCPU() float64 {
	if m.MachineCPU <= 0 {
		return -1
	}
	return max(0, float64(m.MachineCPU-m.ProcessCPU-m.RedisCPU)/float64(m.Elapsed))
}

// CPUPerRequest returns the CPU time of this process and of Redis per
// request.
func (m CacheMeasurement) CPUPerRequest() (process, redis time.Duration) {
	n := time.Duration(max(1, m.Requests))
	return m.ProcessCPU / n, m.RedisCPU / n
}

// PerSecond returns requests per second.
func (m CacheMeasurement) PerSecond() float64 { return float64(m.Requests) / m.Elapsed.Seconds() }

// RoundTripsPerRequest returns round trips per request.
func (m CacheMeasurement) RoundTripsPerRequest() float64 {
	return float64(m.RoundTrips) / float64(max(1, m.Requests))
}

// Check reports whether the run did what its scenario says: in hit no
// request ran the handler (but those whose cache call failed), in miss
// every request did.
func (s CacheScenario) Check(m CacheMeasurement) error {
	switch {
	case m.Requests == 0:
		return fmt.Errorf("%s: no request answered", s.Name)
	case s.Keys > 0 && m.Executions > m.Failures:
		return fmt.Errorf("%s: %d of %d requests ran the handler with %d cache failures: not a hit", s.Name, m.Executions, m.Requests, m.Failures)
	case s.Keys == 0 && m.Executions != m.Requests:
		return fmt.Errorf("%s: %d of %d requests ran the handler", s.Name, m.Executions, m.Requests)
	}
	return nil
}

// page is the response body the benchmarked handler sends: about 600
// bytes of JSON.
var page = func() []byte {
	items := make([]map[string]any, 8)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": "item " + strconv.Itoa(i), "price": 1999 + i, "tags": []string{"a", "b"}}
	}
	b, _ := json.Marshal(map[string]any{"items": items, "total": len(items)})
	return b
}()

// discardWriter is an http.ResponseWriter that keeps the status and the
// body, reused for every request of one goroutine.
type discardWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.body = append(w.body, p...)
	return len(p), nil
}
func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.body = 0, w.body[:0]
}

// right reports whether the response is the page, byte for byte.
func (w *discardWriter) right() bool { return w.status == 200 && bytes.Equal(w.body, page) }

// HTTPRun is one library's Gin engine for one scenario.
type HTTPRun struct {
	lib        HTTPLibrary
	engine     *gin.Engine
	close      func()
	executions atomic.Int64
	fails      atomic.Int64
	bad        atomic.Int64
	s          CacheScenario
	unique     atomic.Int64
}

// NewHTTPRun builds lib's engine for s on a fresh prefix: GET /item
// answers page with Cache-Control: max-age=3600.
func (e *CacheEnv) NewHTTPRun(lib HTTPLibrary, s CacheScenario) (*HTTPRun, error) {
	gin.SetMode(gin.ReleaseMode)
	r := &HTTPRun{lib: lib, s: s, engine: gin.New()}
	mw, closeFn, err := lib.New(e, e.Prefix("http:"+lib.Name+":"+s.Name), &r.fails)
	if err != nil {
		return nil, err
	}
	r.close = closeFn
	r.engine.GET("/item", mw, func(c *gin.Context) {
		r.executions.Add(1)
		c.Header("Cache-Control", "max-age=3600")
		c.Data(http.StatusOK, "application/json", page)
	})
	return r, nil
}

// Close releases the run's cache.
func (r *HTTPRun) Close() { r.close() }

// Warm sends one request per hit URL (so every one is stored) and a few
// misses, then runs the scenario from c goroutines for d (connections
// dialed, code paths hot), then forgets what it counted.
func (e *CacheEnv) WarmHTTP(ctx context.Context, r *HTTPRun, c int, d time.Duration) error {
	w := &discardWriter{h: http.Header{}}
	for i := 0; i < max(r.s.Keys, 100); i++ {
		w.reset()
		r.engine.ServeHTTP(w, r.request(i))
		if !w.right() {
			return fmt.Errorf("%s: warm-up request %d: status %d, %d bytes", r.lib.Name, i, w.status, len(w.body))
		}
	}
	if _, err := e.MeasureHTTP(ctx, r, c, d); err != nil {
		return err
	}
	r.executions.Store(0)
	r.fails.Store(0)
	r.bad.Store(0)
	return nil
}

func (r *HTTPRun) request(i int) *http.Request {
	if r.s.Keys == 0 {
		i = int(r.unique.Add(1))
		return httptest.NewRequest(http.MethodGet, "/item?miss="+strconv.Itoa(i), nil)
	}
	return httptest.NewRequest(http.MethodGet, "/item?id="+strconv.Itoa(i%r.s.Keys), nil)
}

// Bad returns how many answers were wrong (not 200 with the page, byte
// for byte, or an error) so far.
func (r *HTTPRun) Bad() int64 { return r.bad.Load() }

// Failures returns how many cache failures the library reported so far.
func (r *HTTPRun) Failures() int64 { return r.fails.Load() }

// Executions returns how many times the handler ran so far.
func (r *HTTPRun) Executions() int64 { return r.executions.Load() }

// Stepper returns the request loop of goroutine worker of c: in hit it
// cycles the stored URLs from its own offset, in miss each request has a
// URL of its own. Call the result with 0, 1, 2...
func (r *HTTPRun) Stepper(worker, c int) func(i int) {
	w := &discardWriter{h: http.Header{}}
	var reqs []*http.Request
	if r.s.Keys > 0 {
		for k := 0; k < r.s.Keys; k++ {
			reqs = append(reqs, r.request(k+worker*r.s.Keys/c))
		}
	}
	return func(i int) {
		w.reset()
		var req *http.Request
		if reqs != nil {
			req = reqs[i%len(reqs)]
		} else {
			req = r.request(0)
		}
		r.engine.ServeHTTP(w, req)
		if !w.right() {
			r.bad.Add(1)
		}
	}
}

// MeasureHTTP runs r's requests from exactly c goroutines for d.
func (e *CacheEnv) MeasureHTTP(ctx context.Context, r *HTTPRun, c int, d time.Duration) (CacheMeasurement, error) {
	return e.measure(ctx, r.lib.V8, c, d, &r.executions, &r.fails, &r.bad, r.Stepper)
}

// DataRun is one cache-aside library for one scenario.
type DataRun struct {
	lib        DataLibrary
	get        GetOrLoad
	close      func()
	executions atomic.Int64
	fails      atomic.Int64
	bad        atomic.Int64
	s          CacheScenario
	unique     atomic.Int64
}

// NewDataRun builds lib for s on a fresh prefix.
func (e *CacheEnv) NewDataRun(lib DataLibrary, s CacheScenario) (*DataRun, error) {
	r := &DataRun{lib: lib, s: s}
	get, closeFn, err := lib.New(e, e.Prefix("data:"+lib.Name+":"+s.Name), &r.fails)
	if err != nil {
		return nil, err
	}
	r.get, r.close = get, closeFn
	return r, nil
}

// Close releases the run's cache.
func (r *DataRun) Close() { r.close() }

func (r *DataRun) load() ([]byte, error) {
	r.executions.Add(1)
	return page, nil
}

func (r *DataRun) key(i int) string {
	if r.s.Keys == 0 {
		return "miss:" + strconv.FormatInt(r.unique.Add(1), 10)
	}
	return "key:" + strconv.Itoa(i%r.s.Keys)
}

// WarmData loads every hit key once, then runs the scenario from c
// goroutines for d, then forgets what it counted.
func (e *CacheEnv) WarmData(ctx context.Context, r *DataRun, c int, d time.Duration) error {
	for i := 0; i < max(r.s.Keys, 100); i++ {
		v, err := r.get(ctx, r.key(i), r.load)
		if err != nil || !bytes.Equal(v, page) {
			return fmt.Errorf("%s: warm-up %d: %d bytes, %v", r.lib.Name, i, len(v), err)
		}
	}
	if _, err := e.MeasureData(ctx, r, c, d); err != nil {
		return err
	}
	r.executions.Store(0)
	r.fails.Store(0)
	r.bad.Store(0)
	return nil
}

// Bad returns how many answers were wrong so far.
func (r *DataRun) Bad() int64 { return r.bad.Load() }

// Failures returns how many cache failures the library reported so far.
func (r *DataRun) Failures() int64 { return r.fails.Load() }

// Executions returns how many times the loader ran so far.
func (r *DataRun) Executions() int64 { return r.executions.Load() }

// Stepper returns the GetOrLoad loop of goroutine worker of c, as
// HTTPRun.Stepper does for requests.
func (r *DataRun) Stepper(worker, c int) func(i int) {
	ctx := context.Background()
	var keys []string
	if r.s.Keys > 0 {
		for k := 0; k < r.s.Keys; k++ {
			keys = append(keys, r.key(k+worker*r.s.Keys/c))
		}
	}
	return func(i int) {
		var key string
		if keys != nil {
			key = keys[i%len(keys)]
		} else {
			key = r.key(0)
		}
		if v, err := r.get(ctx, key, r.load); err != nil || !bytes.Equal(v, page) {
			r.bad.Add(1)
		}
	}
}

// MeasureData calls GetOrLoad from exactly c goroutines for d.
func (e *CacheEnv) MeasureData(ctx context.Context, r *DataRun, c int, d time.Duration) (CacheMeasurement, error) {
	return e.measure(ctx, false, c, d, &r.executions, &r.fails, &r.bad, r.Stepper)
}

// measure runs step from exactly c goroutines for d and counts.
func (e *CacheEnv) measure(ctx context.Context, v8 bool, c int, d time.Duration, executions, fails, bad *atomic.Int64, stepper func(worker, c int) func(i int)) (CacheMeasurement, error) {
	steps := make([]func(int), c)
	for w := range steps {
		steps[w] = stepper(w, c)
	}
	execs0, fails0, bad0 := executions.Load(), fails.Load(), bad.Load()
	rt0 := e.RoundTrips(v8)
	rcpu0, err := e.redisCPU(ctx)
	if err != nil {
		return CacheMeasurement{}, err
	}
	pcpu0, mcpu0 := ProcessCPU(), MachineCPU()
	var requests atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Go(func() {
			n := int64(0)
			for i := 0; !stop.Load(); i++ {
				steps[w](i)
				n++
			}
			requests.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	m := CacheMeasurement{
		Requests:   requests.Load(),
		Executions: executions.Load() - execs0,
		Failures:   fails.Load() - fails0 + bad.Load() - bad0,
		RoundTrips: e.RoundTrips(v8) - rt0,
		Elapsed:    elapsed,
		ProcessCPU: ProcessCPU() - pcpu0,
		MachineCPU: MachineCPU() - mcpu0,
	}
	rcpu1, err := e.redisCPU(ctx)
	if err != nil {
		return m, err
	}
	m.RedisCPU = rcpu1 - rcpu0
	return m, nil
}
