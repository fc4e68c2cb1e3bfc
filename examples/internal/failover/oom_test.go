package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
	"github.com/redisware/redisware/internal/redisproc"
	"github.com/redisware/redisware/nethttp"
)

// oomBound is how long any request may take while Redis refuses writes: a
// refusal is an immediate reply, so each Redis call ends well within its
// deadline (100ms); generous for a loaded machine.
const oomBound = 2 * time.Second

// A server at maxmemory with noeviction refuses every write with OOM.
// Requests that only read still work, and those that must write follow
// each core's documented policy, at once: the rate limiter fails open (or
// closed, when so configured), a new idempotent request is refused with
// 503 and its handler never runs while a stored order still replays, a
// session change is refused with 503 and the stored session is left as it
// was, and the cache serves from the handler while a stored answer is
// still a hit. Once memory is freed, everything works again, and the
// refused order runs for the first time.
func TestOutOfMemory(t *testing.T) {
	redisproc.Gate(t)
	s := redisproc.Start(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
	ctx := t.Context()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	const prefix = "oom:"
	h, err := nethttpapp.New(app.Backend{Client: rdb, Prefix: prefix}) // the default 100ms call deadline
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	closed, err := ratelimit.New(rdb, ratelimit.Options{Settings: core.Settings{Prefix: prefix},
		Name: "closed", Limits: []ratelimit.Limit{{Rate: 100, Period: time.Minute}}, FailClosed: true})
	if err != nil {
		t.Fatal(err)
	}
	closedTS := httptest.NewServer(nethttp.RateLimit(closed)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(closedTS.Close)
	hc, fresh := httpClient(t, "127.0.0.5"), freshAddrClient(t)
	inst := &instance{name: "nethttp", url: ts.URL, prefix: prefix, rdb: rdb}
	do := func(c *http.Client, method, url string, hdr http.Header, body string) *reply {
		t.Helper()
		r, err := send(ctx, c, method, url, hdr, body)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	orderID := func(r *reply) int64 {
		var o app.Order
		if r.status != 201 || json.Unmarshal(r.body, &o) != nil {
			t.Fatalf("POST /orders: %d %s, want an order", r.status, r.body)
		}
		return o.OrderID
	}

	// Before: a session with one visit, an order, a cached answer.
	cookie, err := login(ctx, hc, inst, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r := do(hc, "GET", ts.URL+"/me", cookieHeader(cookie), ""); r.status != 200 || !bytes.Contains(r.body, []byte(`"visits":1`)) {
		t.Fatal(r.fail("GET /me"))
	}
	kept := do(hc, "POST", ts.URL+"/orders", orderHeader("oom-1"), orderBody(1))
	if orderID(kept) != 1 {
		t.Fatalf("first order %s", kept.body)
	}
	if r := do(hc, "GET", ts.URL+"/cached?q=kept", nil, ""); !strings.Contains(r.header.Get("Cache-Status"), "stored") {
		t.Fatalf("GET /cached?q=kept: Cache-Status %q", r.header.Get("Cache-Status"))
	}
	sessKeys, err := s.Client().Keys(ctx, prefix+"sess:*:s:*").Result() // a test server: KEYS is fine
	if err != nil || len(sessKeys) != 1 {
		t.Fatalf("session keys %v, %v", sessKeys, err)
	}
	stored := func() map[string]string {
		v, err := s.Client().HGetAll(ctx, sessKeys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := stored()

	fill(t, s)

	var measured []string
	timed := func(name string, r *reply) *reply {
		t.Helper()
		measured = append(measured, fmt.Sprintf("%-42s %d in %v", name, r.status, r.took.Round(10*time.Microsecond)))
		if r.took > oomBound {
			t.Errorf("%s took %v while Redis is out of memory, want at most %v", name, r.took, oomBound)
		}
		return r
	}
	// Rate limiting: open by default, closed when asked.
	if r := timed("GET /limited (fails open)", do(fresh, "GET", ts.URL+"/limited", nil, "")); r.status != 200 || r.header.Get("RateLimit-Policy") != "" {
		t.Errorf("GET /limited: %d RateLimit-Policy %q, want 200 with no RateLimit fields (failed open)", r.status, r.header.Get("RateLimit-Policy"))
	}
	if r := timed("FailClosed limiter (503)", do(fresh, "GET", closedTS.URL+"/", nil, "")); r.status != 503 {
		t.Errorf("FailClosed limiter: %d %s, want 503", r.status, r.body)
	}
	// Idempotency: a new request is refused before its handler runs; a
	// stored one replays.
	if r := timed("POST /orders new key (503)", do(hc, "POST", ts.URL+"/orders", orderHeader("oom-2"), orderBody(2))); r.status != 503 {
		t.Errorf("POST /orders with a new key: %d %s, want 503", r.status, r.body)
	}
	if r := timed("POST /orders replay (201)", do(hc, "POST", ts.URL+"/orders", orderHeader("oom-1"), orderBody(1))); r.status != 201 ||
		!bytes.Equal(r.body, kept.body) || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("POST /orders replay: %d %s (Idempotent-Replayed %q), want the stored %s", r.status, r.body, r.header.Get("Idempotent-Replayed"), kept.body)
	}
	// Sessions: a change is refused, and nothing of the session changes; a
	// route that only reads the session works.
	if r := timed("GET /me, a session change (503)", do(hc, "GET", ts.URL+"/me", cookieHeader(cookie), "")); r.status != 503 {
		t.Errorf("GET /me (adds a visit): %d %s, want 503", r.status, r.body)
	}
	if after := stored(); !reflect.DeepEqual(after, before) {
		t.Errorf("the stored session changed while Redis refused writes:\n%v\nwas\n%v", after, before)
	}
	if r := timed("GET /greeting, reads the session (200)", do(hc, "GET", ts.URL+"/greeting", cookieHeader(cookie), "")); r.status != 200 ||
		string(bytes.TrimSpace(r.body)) != `{"greeting":"hello alice"}` {
		t.Errorf("GET /greeting (only reads the session): %d %s, want 200 hello alice", r.status, r.body)
	}
	if r := timed("POST /login, a new session (503)", do(fresh, "POST", ts.URL+"/login",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "user=bob")); r.status != 503 {
		t.Errorf("POST /login: %d %s, want 503", r.status, r.body)
	}
	// The cache: answers from the handler (twice: nothing is stored), and
	// still hits.
	for i := range 2 {
		r := timed(fmt.Sprintf("GET /cached miss %d (from the handler)", i+1), do(hc, "GET", ts.URL+"/cached?q=new", nil, ""))
		if want := fmt.Sprintf(`{"q":"new","executions":%d}`, 2+i); r.status != 200 || string(bytes.TrimSpace(r.body)) != want {
			t.Errorf("GET /cached?q=new: %d %s (Cache-Status %q), want 200 %s from the handler", r.status, r.body, r.header.Get("Cache-Status"), want)
		}
	}
	if r := timed("GET /cached hit", do(hc, "GET", ts.URL+"/cached?q=kept", nil, "")); r.status != 200 || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Errorf("GET /cached?q=kept: %d Cache-Status %q, want a hit", r.status, r.header.Get("Cache-Status"))
	}
	for _, m := range measured {
		t.Logf("MEASURED out of memory: %s", m)
	}

	// Memory freed: the refused order runs now, for the first time (order
	// 2: it never ran), and the session counts its second visit.
	free(t, s)
	if id := orderID(do(hc, "POST", ts.URL+"/orders", orderHeader("oom-2"), orderBody(2))); id != 2 {
		t.Errorf("the order refused during OOM got number %d once memory was freed, want 2: its handler ran while refused", id)
	}
	if r := do(hc, "GET", ts.URL+"/me", cookieHeader(cookie), ""); r.status != 200 || !bytes.Contains(r.body, []byte(`"visits":2`)) {
		t.Errorf("GET /me after OOM: %d %s, want visits 2", r.status, r.body)
	}
}

// fill writes junk (keys junk:N, never the app's) until the server refuses
// a write with OOM, then lowers maxmemory 256 KiB under the memory used: a
// server just at its limit would still take a small write now and then
// (the refused write's own arguments no longer count), and the test wants
// every write refused.
func fill(t *testing.T, s *redisproc.Server) {
	t.Helper()
	ctx := context.Background()
	junk := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		err := s.Client().Set(ctx, fmt.Sprintf("junk:%d", i), junk, 0).Err()
		if err == nil {
			continue
		}
		if !strings.HasPrefix(err.Error(), "OOM ") {
			t.Fatalf("filling the server: %v", err)
		}
		mem, err := s.Info(ctx, "memory")
		if err != nil {
			t.Fatal(err)
		}
		used, _ := strconv.Atoi(mem["used_memory"])
		if err := s.Client().ConfigSet(ctx, "maxmemory", strconv.Itoa(used-256<<10)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Client().Set(ctx, "junk:small", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM ") {
			t.Fatalf("a small write after the fill: %v, want OOM", err)
		}
		t.Logf("Redis refuses writes after %d junk keys of 64 KiB (used_memory %d; maxmemory lowered to %d)", i, used, used-256<<10)
		return
	}
}

// free deletes the junk fill wrote and restores maxmemory.
func free(t *testing.T, s *redisproc.Server) {
	t.Helper()
	ctx := context.Background()
	keys, err := s.Client().Keys(ctx, "junk:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client().Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Client().ConfigSet(ctx, "maxmemory", "2mb").Err(); err != nil {
		t.Fatal(err)
	}
}
