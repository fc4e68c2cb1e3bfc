package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/examples/internal/echoapp"
	"github.com/redisware/redisware/examples/internal/ginapp"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
)

// appWarnings counts the warnings the app's middleware logged (each Redis
// failure is one); they go to slog's default logger, which TestMain
// silences so that thousands of them during a failover do not bury the
// test's own output. The lines about the maxmemory-policy (package
// eviction) are kept in policyLines.
var appWarnings atomic.Int64

var policyLines struct {
	sync.Mutex
	lines []string
}

type countingHandler struct{}

func (countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "maxmemory-policy") {
		policyLines.Lock()
		policyLines.lines = append(policyLines.lines, r.Level.String()+" "+r.Message)
		policyLines.Unlock()
	}
	if r.Level >= slog.LevelWarn {
		appWarnings.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// takePolicyLines returns the maxmemory-policy lines logged so far, and
// forgets them.
func takePolicyLines() []string {
	policyLines.Lock()
	defer policyLines.Unlock()
	out := policyLines.lines
	policyLines.lines = nil
	return out
}

// quietRedis drops go-redis's own log lines (a dial refused, a pool
// breaker), which a killed master produces by the hundred.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(countingHandler{}))
	redis.SetLogger(quietRedis{})
	os.Exit(m.Run())
}

// builds are the three builds of the reference app.
var builds = []struct {
	name string
	new  func(app.Backend) (http.Handler, error)
}{
	{"nethttp", nethttpapp.New},
	{"gin", ginapp.New},
	{"echo", echoapp.New},
}

// instance is one build of the reference app, served over TCP, on a Redis
// client of its own, as one app server of a fleet is.
type instance struct {
	name   string
	url    string
	prefix string
	rdb    redis.UniversalClient
}

// startApps serves every build, each on a client newClient makes, with the
// key prefix "<tag>:<build>:" and the app's default call timeout (100ms,
// as in production).
func startApps(t *testing.T, tag string, newClient func() redis.UniversalClient) []*instance {
	t.Helper()
	var out []*instance
	for _, b := range builds {
		rdb := newClient()
		prefix := tag + ":" + b.name + ":"
		h, err := b.new(app.Backend{Client: rdb, Prefix: prefix})
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		out = append(out, &instance{name: b.name, url: ts.URL, prefix: prefix, rdb: rdb})
	}
	return out
}

// httpClient returns an HTTP client whose connections come from the
// loopback address ip: the app limits and scopes by client address, so
// each address has budgets and idempotency records of its own, and their
// keys land on different Cluster slots.
func httpClient(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// nextAddr numbers the loopback addresses of freshAddrClient, from
// 127.1.0.1 up.
var nextAddr atomic.Uint32

// freshAddrClient returns an HTTP client that sends each request on a new
// connection from a loopback address never used before: a new client, to
// the app, with a full rate-limit budget, so every request is decided in
// Redis (a client over its limit is refused from the limiter's local deny
// cache, without Redis), and its keys land on any slot.
func freshAddrClient(t *testing.T) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := nextAddr.Add(1)
		ip := net.IPv4(127, 1+byte(n>>16), byte(n>>8), byte(n))
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
		return d.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// reply is a response with its whole body.
type reply struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// send sends a request and reads the whole response.
func send(ctx context.Context, hc *http.Client, method, url string, h http.Header, body string) (*reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}, nil
}

// sessionCookie returns the session cookie r sets, "" when none.
func (r *reply) sessionCookie() string {
	for _, line := range r.header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(line, "session="); ok {
			v, _, _ = strings.Cut(v, ";")
			return v
		}
	}
	return ""
}

// policy checks that the limiter named name decided r: its RateLimit-Policy
// names it. A limiter that failed open sets none.
func (r *reply) policy(name string) error {
	if p := r.header.Get("RateLimit-Policy"); !strings.HasPrefix(p, `"`+name+`"`) {
		return fmt.Errorf("%d with RateLimit-Policy %q: limiter %q did not decide (Redis failed, it failed open)", r.status, p, name)
	}
	return nil
}

// cacheServed checks that the cache answered r (a hit or a store), not the
// handler alone because Redis failed.
func (r *reply) cacheServed() error {
	st := r.header.Get("Cache-Status")
	if st == "" || strings.Contains(st, "redis-unavailable") {
		return fmt.Errorf("%d with Cache-Status %q: the cache could not use Redis", r.status, st)
	}
	return nil
}

func (r *reply) fail(what string) error {
	return fmt.Errorf("%s: %d %s", what, r.status, bytes.TrimSpace(r.body))
}

// worker is one simulated client: its own address, and a user of its own
// for the session routes.
type worker struct {
	id     int
	inst   *instance
	hc     *http.Client
	user   string
	cookie string
	n      int
}

// probe is the load on one route: what one request sends and what makes
// it a success.
type probe struct {
	route   string
	workers int // per build
	session bool
	// fresh sends each request from a new address (freshAddrClient).
	fresh bool
	run   func(ctx context.Context, w *worker) error
}

// probes exercise every route that touches Redis: each success proves the
// core behind it used Redis (a limiter that decided, a cache that stored or
// hit, a session loaded, an order claimed and stored).
var probes = []probe{
	{route: "GET /limited", workers: 1, fresh: true, run: func(ctx context.Context, w *worker) error {
		r, err := send(ctx, w.hc, "GET", w.inst.url+"/limited", nil, "")
		if err != nil {
			return err
		}
		if r.status != 200 {
			return r.fail("GET /limited (a new client)")
		}
		return r.policy(app.LimitedName)
	}},
	{route: "GET /items/{id}", workers: 1, fresh: true, run: func(ctx context.Context, w *worker) error {
		id := strconv.Itoa(w.n)
		r, err := send(ctx, w.hc, "GET", w.inst.url+"/items/"+id, nil, "")
		if err != nil {
			return err
		}
		if r.status != 200 || string(bytes.TrimSpace(r.body)) != `{"id":"`+id+`"}` {
			return r.fail("GET /items/" + id + " (a new client)")
		}
		return r.policy(app.ItemsName)
	}},
	{route: "POST /orders", workers: 3, run: func(ctx context.Context, w *worker) error {
		key := fmt.Sprintf("load-%s-%d-%d-%d", w.inst.name, w.id, w.n, time.Now().UnixNano())
		r, err := send(ctx, w.hc, "POST", w.inst.url+"/orders", orderHeader(key), orderBody(w.n))
		if err != nil {
			return err
		}
		if r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
			return r.fail("POST /orders (fresh key)")
		}
		return r.policy(app.AppLimitName)
	}},
	{route: "GET /me", workers: 1, session: true, run: func(ctx context.Context, w *worker) error {
		r, err := send(ctx, w.hc, "GET", w.inst.url+"/me", cookieHeader(w.cookie), "")
		if err != nil {
			return err
		}
		var me struct {
			User string `json:"user"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &me) != nil || me.User != w.user {
			return r.fail("GET /me")
		}
		return r.policy(app.AppLimitName)
	}},
	{route: "GET /greeting", workers: 1, session: true, run: func(ctx context.Context, w *worker) error {
		r, err := send(ctx, w.hc, "GET", w.inst.url+"/greeting", cookieHeader(w.cookie), "")
		if err != nil {
			return err
		}
		if r.status != 200 || string(bytes.TrimSpace(r.body)) != `{"greeting":"hello `+w.user+`"}` {
			return r.fail("GET /greeting")
		}
		if err := r.cacheServed(); err != nil {
			return err
		}
		return r.policy(app.AppLimitName)
	}},
	{route: "GET /cached", workers: 1, run: func(ctx context.Context, w *worker) error {
		q := fmt.Sprintf("w%d-%d", w.id, w.n%40)
		r, err := send(ctx, w.hc, "GET", w.inst.url+"/cached?q="+q, nil, "")
		if err != nil {
			return err
		}
		var a app.CachedAnswer
		if r.status != 200 || json.Unmarshal(r.body, &a) != nil || a.Q != q {
			return r.fail("GET /cached")
		}
		if err := r.cacheServed(); err != nil {
			return err
		}
		return r.policy(app.AppLimitName)
	}},
}

func orderHeader(key string) http.Header {
	return http.Header{"Idempotency-Key": {key}, "Content-Type": {"application/json"}}
}

func orderBody(n int) string { return fmt.Sprintf(`{"item":"lamp","qty":%d}`, n%5+1) }

func cookieHeader(cookie string) http.Header {
	return http.Header{"Cookie": {"session=" + cookie}}
}

// login logs user in on inst and returns the session cookie.
func login(ctx context.Context, hc *http.Client, inst *instance, user string) (string, error) {
	r, err := send(ctx, hc, "POST", inst.url+"/login",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "user="+user)
	if err != nil {
		return "", err
	}
	if r.status != 200 || r.sessionCookie() == "" {
		return "", r.fail("POST /login")
	}
	return r.sessionCookie(), nil
}

// record is one request of the load.
type record struct {
	start, end time.Duration // since the load began
	err        error
}

// load sends every probe's requests, each worker in a loop, until halted,
// and keeps every request's outcome.
type load struct {
	t0   time.Time
	stop chan struct{}
	wg   sync.WaitGroup

	mu   sync.Mutex
	recs map[string][]record
}

// pace is the pause of each worker between two requests.
const pace = 15 * time.Millisecond

// startLoad logs in the workers of the session probes, then starts every
// worker. Each worker has a loopback address of its own, from
// 127.0.0.10 up, or a new one for each request (probe.fresh).
func startLoad(t *testing.T, insts []*instance) *load {
	t.Helper()
	l := &load{t0: time.Now(), stop: make(chan struct{}), recs: map[string][]record{}}
	id := 0
	var workers []*worker
	var routes []*probe
	for i := range probes {
		p := &probes[i]
		for _, inst := range insts {
			for range p.workers {
				id++
				w := &worker{id: id, inst: inst, user: fmt.Sprintf("user%d", id)}
				if p.fresh {
					w.hc = freshAddrClient(t)
				} else {
					w.hc = httpClient(t, fmt.Sprintf("127.0.0.%d", 10+id))
				}
				if p.session {
					c, err := login(t.Context(), w.hc, inst, w.user)
					if err != nil {
						t.Fatalf("logging in worker %d on %s: %v", id, inst.name, err)
					}
					w.cookie = c
				}
				workers = append(workers, w)
				routes = append(routes, p)
			}
		}
	}
	l.t0 = time.Now()
	for i, w := range workers {
		p := routes[i]
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				w.n++
				start := l.now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := p.run(ctx, w)
				cancel()
				l.mu.Lock()
				l.recs[p.route] = append(l.recs[p.route], record{start: start, end: l.now(), err: err})
				l.mu.Unlock()
				select {
				case <-l.stop:
					return
				case <-time.After(pace):
				}
			}
		})
	}
	t.Cleanup(l.halt)
	return l
}

// now is the time since the load began.
func (l *load) now() time.Duration { return time.Since(l.t0) }

// halt stops every worker and waits for them; it may be called twice.
func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// records returns a copy of a route's records, by start time.
func (l *load) records(route string) []record {
	l.mu.Lock()
	out := slices.Clone(l.recs[route])
	l.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// streak is how many requests in a row must succeed for a route to count
// as working again.
const streak = 20

// outcome is what the load saw of one route from a moment on.
type outcome struct {
	route string
	// recovered is when the first of streak consecutive successes (by
	// start time, among requests started at or after the moment) started,
	// relative to the moment; ok is false if there is no such run.
	recovered time.Duration
	ok        bool
	// failures counts the failed requests started in [since, until).
	failures, requests int
	// lastFailure is the end of the last failed request started after
	// since, relative to the moment (negative: before it); meaningful only
	// when failures > 0.
	lastFailure time.Duration
	// samples are a few distinct errors.
	samples []string
}

// outcomeOf sums up a route's records: the run of successes is looked for
// from `from` on, failures are counted from `since` on.
func (l *load) outcomeOf(route string, since, from time.Duration) outcome {
	o := outcome{route: route}
	recs := l.records(route)
	run, runStart := 0, time.Duration(0)
	for _, r := range recs {
		if r.start >= since {
			o.requests++
			if r.err != nil {
				o.failures++
				o.lastFailure = r.end - from
				msg := r.err.Error()
				if len(o.samples) < 4 && !slices.Contains(o.samples, msg) {
					o.samples = append(o.samples, msg)
				}
			}
		}
		if r.start < from || o.ok {
			continue
		}
		if r.err != nil {
			run = 0
			continue
		}
		if run == 0 {
			runStart = r.start
		}
		run++
		if run == streak {
			o.recovered, o.ok = runStart-from, true
		}
	}
	return o
}

// waitRecovered keeps the load going until every route has had streak
// successes in a row since from and at least minRun has passed since it,
// or until maxRun has; it returns each route's outcome (failures counted
// since `since`).
func (l *load) waitRecovered(since, from, minRun, maxRun time.Duration) []outcome {
	for {
		var outs []outcome
		all := true
		for _, p := range probes {
			o := l.outcomeOf(p.route, since, from)
			all = all && o.ok
			outs = append(outs, o)
		}
		el := l.now() - from
		if (all && el >= minRun) || el >= maxRun {
			return outs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fmtDur prints d in seconds with 3 decimals.
func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// report logs one MEASURED line per route and fails t for a route that did
// not work again within bound.
func report(t *testing.T, scenario, from string, outs []outcome, bound time.Duration) {
	t.Helper()
	for _, o := range outs {
		last := "none"
		if o.failures > 0 {
			last = fmt.Sprintf("%s (e.g. %q)", fmtDur(o.lastFailure), o.samples[0])
		}
		rec := "never"
		if o.ok {
			rec = fmtDur(o.recovered)
		}
		t.Logf("MEASURED %s: %-16s works again %s after %s (%d in a row); %d of %d requests failed; last failure ended at %s",
			scenario, o.route, rec, from, streak, o.failures, o.requests, last)
		if !o.ok || o.recovered > bound {
			t.Errorf("%s: %s did not work again (%d requests in a row) within %v of %s; %d of %d failed, e.g. %q",
				scenario, o.route, streak, bound, from, o.failures, o.requests, o.samples)
		}
	}
}

// durable is the state written before a failure that must survive it:
// sessions and orders.
type durable struct {
	hc       *http.Client // orders are scoped by client address: one address for all
	sessions []savedSession
	orders   []savedOrder
}

type savedSession struct {
	inst         *instance
	user, cookie string
}

type savedOrder struct {
	inst      *instance
	key, body string
	reply     []byte
}

// writeDurable logs in n users and creates n orders, spread over the
// instances, and keeps what a client keeps: cookies, keys, responses.
func writeDurable(t *testing.T, insts []*instance, n int) *durable {
	t.Helper()
	d := &durable{hc: httpClient(t, "127.0.0.2")}
	ctx := t.Context()
	for i := range n {
		inst := insts[i%len(insts)]
		user := fmt.Sprintf("kept%d", i)
		c, err := login(ctx, d.hc, inst, user)
		if err != nil {
			t.Fatalf("login %s: %v", user, err)
		}
		d.sessions = append(d.sessions, savedSession{inst: inst, user: user, cookie: c})
		key, body := fmt.Sprintf("kept-order-%d", i), orderBody(i)
		r, err := send(ctx, d.hc, "POST", inst.url+"/orders", orderHeader(key), body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 201 {
			t.Fatalf("order %s: %d %s", key, r.status, r.body)
		}
		d.orders = append(d.orders, savedOrder{inst: inst, key: key, body: body, reply: r.body})
	}
	return d
}

// check asserts that every session still logs in and every order replays
// its stored response.
func (d *durable) check(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	for _, s := range d.sessions {
		r, err := send(ctx, d.hc, "GET", s.inst.url+"/me", cookieHeader(s.cookie), "")
		if err != nil {
			t.Fatal(err)
		}
		var me struct {
			User string `json:"user"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &me) != nil || me.User != s.user {
			t.Errorf("session of %s on %s lost: GET /me = %d %s", s.user, s.inst.name, r.status, r.body)
		}
	}
	for _, o := range d.orders {
		r, err := send(ctx, d.hc, "POST", o.inst.url+"/orders", orderHeader(o.key), o.body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 201 || !bytes.Equal(r.body, o.reply) || r.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("order %s on %s not replayed: %d %s (Idempotent-Replayed %q), want 201 %s",
				o.key, o.inst.name, r.status, r.body, r.header.Get("Idempotent-Replayed"), o.reply)
		}
	}
	t.Logf("%d sessions and %d orders written before the failure are all intact", len(d.sessions), len(d.orders))
}

// replicate makes node's replicas acknowledge everything node has written
// so far: WAIT waits for the writes of its own connection only, so it
// writes a key of its own first (on a Cluster node, one in slot), and the
// replication stream being ordered, an acknowledged offset past that write
// covers every earlier write, the app's included.
func replicate(ctx context.Context, node *redis.Client, key string) error {
	if err := node.Set(ctx, key, "1", time.Minute).Err(); err != nil {
		return err
	}
	n, err := node.Wait(ctx, 1, time.Second).Result()
	if err != nil {
		return err
	}
	if n < 1 {
		return errors.New("no replica acknowledged within 1s")
	}
	return nil
}
