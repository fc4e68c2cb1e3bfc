package idempotency

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newGuard(t *testing.T, srv *redistest.Server, opts Options) *Guard {
	t.Helper()
	opts.Prefix = srv.Prefix
	opts.Logger = quiet
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second // 800 requests at once on two cores
	}
	g, err := New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func post(g *Guard, key, body string, h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1"
	r.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r, h)
	return w
}

// Four instances (separate clients and guards) get 200 concurrent identical
// requests with one key: the handler runs exactly once, and every response
// is either 409 or the stored one, byte for byte.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var runs atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"order_id":`+string(rune('0'+n))+`}`)
	})
	var guards []*Guard
	for i := 0; i < 4; i++ {
		guards = append(guards, newGuard(t, srv, Options{}))
	}
	const total = 200
	recs := make([]*httptest.ResponseRecorder, total)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			recs[i] = post(guards[i%4], "order-1", `{"item":"book","qty":1}`, handler)
		}(i)
	}
	close(start)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want exactly 1", n)
	}
	var created, conflicts int
	for i, rec := range recs {
		switch rec.Code {
		case http.StatusCreated:
			created++
			if rec.Body.String() != `{"order_id":1}` || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("response %d: %q %v", i, rec.Body, rec.Header())
			}
		case http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("response %d: status %d %s", i, rec.Code, rec.Body)
		}
	}
	t.Logf("%d created or replayed, %d conflicts", created, conflicts)
	if created < 1 {
		t.Fatal("nobody got the response")
	}
	// After completion every retry replays, and the count stays 1.
	for i := 0; i < 10; i++ {
		rec := post(guards[i%4], "order-1", `{"item":"book","qty":1}`, handler)
		if rec.Code != 201 || rec.Body.String() != `{"order_id":1}` || rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry %d: %d %q", i, rec.Code, rec.Body)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times after retries", n)
	}
}

// A claim whose holder died (its TTL lapses without refresh) blocks retries
// only until it expires.
func TestDeadHolderLapses(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	g := newGuard(t, srv, Options{ClaimTTL: 200 * time.Millisecond})
	client := srv.Client()
	// What a server that died after claiming leaves behind: an in-flight
	// record with a token nobody refreshes.
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("x"))
	r.RemoteAddr = "192.0.2.1:1"
	key := g.recordKey(mustScope(t, g, r), http.MethodPost, core.Route(r), "k1")
	fp := fingerprint(r, []byte("x"))
	if err := claimScript.Run(context.Background(), client, []string{key}, "dead-server", fp, 200).Err(); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs.Add(1); w.WriteHeader(201) })
	if rec := post(g, "k1", "x", h); rec.Code != http.StatusConflict {
		t.Fatalf("while the dead claim lives: %d", rec.Code)
	}
	if mr := srv.Miniredis(); mr != nil {
		mr.FastForward(time.Second)
	} else {
		deadline := time.Now().Add(10 * time.Second)
		for client.Exists(context.Background(), key).Val() == 1 {
			if time.Now().After(deadline) {
				t.Fatal("the claim never expired")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if rec := post(g, "k1", "x", h); rec.Code != 201 || runs.Load() != 1 {
		t.Fatalf("after the claim lapsed: %d, runs %d", rec.Code, runs.Load())
	}
	if ttl := client.PTTL(context.Background(), key).Val(); ttl < 23*time.Hour {
		t.Fatalf("completed record TTL %v, want the 24 h retention", ttl)
	}
}

// A slow handler keeps its claim: it is refreshed while the handler runs.
func TestClaimRefreshedWhileRunning(t *testing.T) {
	srv := redistest.New(t)
	g := newGuard(t, srv, Options{ClaimTTL: time.Second})
	var runs atomic.Int64
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		<-release
		w.WriteHeader(201)
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	done := make(chan int, 1)
	go func() { done <- post(g, "slow", "x", h).Code }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Duplicates over several claim TTLs all see the claim alive.
	for i := 0; i < 5; i++ {
		time.Sleep(400 * time.Millisecond)
		if mr := srv.Miniredis(); mr != nil {
			mr.FastForward(400 * time.Millisecond)
		}
		if rec := post(g, "slow", "x", h); rec.Code != http.StatusConflict {
			t.Fatalf("duplicate %d: %d %s, the claim was lost", i, rec.Code, rec.Body)
		}
	}
	unblock()
	if code := <-done; code != 201 || runs.Load() != 1 {
		t.Fatalf("first: %d, runs %d", code, runs.Load())
	}
}

// A request that lost its claim (it expired and another request took the
// key) must not overwrite the new owner's record.
func TestStoreOnlyWithClaim(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	g := newGuard(t, srv, Options{})
	client := srv.Client()
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("x"))
	r.RemoteAddr = "192.0.2.1:1"
	key := g.recordKey(mustScope(t, g, r), http.MethodPost, core.Route(r), "k2")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Meanwhile the claim is lost and another server claims the key.
		client.Del(context.Background(), key)
		client.HSet(context.Background(), key, "st", "p", "tok", "other", "fp", "f")
		w.WriteHeader(201)
	})
	if rec := post(g, "k2", "x", h); rec.Code != 201 {
		t.Fatalf("status %d", rec.Code)
	}
	got, err := client.HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["st"] != "p" || got["tok"] != "other" || got["resp"] != "" {
		t.Fatalf("the record was overwritten without the claim: %v", got)
	}
}

// New rejects every option that cannot work with an error that names it
// and wraps core.ErrConfig, and accepts the edge cases that can.
func TestNewValidation(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for _, tc := range []struct {
		name  string
		opts  Options
		field string // "" means valid
	}{
		{"negative MaxBodyBytes", Options{MaxBodyBytes: -1}, "Options.MaxBodyBytes"},
		{"negative MaxStoredBytes", Options{MaxStoredBytes: -1}, "Options.MaxStoredBytes"},
		{"Retention under a second", Options{Retention: time.Millisecond}, "Options.Retention"},
		{"negative Retention", Options{Retention: -time.Hour}, "Options.Retention"},
		{"ClaimTTL under 30ms", Options{ClaimTTL: time.Millisecond}, "Options.ClaimTTL"},
		{"negative ClaimTTL", Options{ClaimTTL: -time.Second}, "Options.ClaimTTL"},
		{"negative WaitInFlight", Options{WaitInFlight: -time.Second}, "Options.WaitInFlight"},
		{"Header with a space", Options{Header: "Idempotency Key"}, "Options.Header"},
		{"Header with a colon", Options{Header: "Idempotency-Key:"}, "Options.Header"},
		{"empty method", Options{Methods: []string{"POST", ""}}, "Options.Methods"},
		{"method with a space", Options{Methods: []string{"POST PUT"}}, "Options.Methods"},
		{"bad trusted proxy", Options{Settings: core.Settings{TrustedProxies: []string{"nope"}}}, "Settings.TrustedProxies"},
		{"short secret", Options{Settings: core.Settings{Secret: []byte("short")}}, "Settings.Secret"},
		{"zero value", Options{}, ""},
		{"smallest limits", Options{MaxBodyBytes: 1, MaxStoredBytes: 1, Retention: time.Second, ClaimTTL: MinClaimTTL}, ""},
		{"other header and methods", Options{Header: "x-request-key", Methods: []string{"put", "DELETE", "PURGE"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(srv.Client(), tc.opts)
			if tc.field == "" {
				if err != nil || g == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "idempotency: ") {
				t.Fatalf("error %q: want one naming %s, wrapping core.ErrConfig", err, tc.field)
			}
		})
	}
	if _, err := New(nil, Options{}); !errors.Is(err, core.ErrConfig) {
		t.Errorf("nil client: %v", err)
	}
}

// Settings.OnReject writes every rejection, with the rejection's header
// fields already set on the writer.
func TestOnReject(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var seen []*core.Rejection
	g := newGuard(t, srv, Options{Required: true, Settings: core.Settings{
		OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			seen = append(seen, rej)
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(rej.Status)
			_, _ = io.WriteString(w, "custom: "+rej.Detail)
		},
	}})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })

	missing := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("x"))
	w := httptest.NewRecorder()
	g.ServeHTTP(w, missing, ok)
	if w.Code != 400 || w.Body.String() != "custom: This request requires an Idempotency-Key header." || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("missing key: %d %q %v", w.Code, w.Body, w.Header())
	}

	// A claim held by another server: 409 with Retry-After.
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("x"))
	r.RemoteAddr = "192.0.2.1:1"
	key := g.recordKey(mustScope(t, g, r), http.MethodPost, core.Route(r), "busy")
	if err := claimScript.Run(context.Background(), srv.Client(), []string{key}, "other", fingerprint(r, []byte("x")), 60_000).Err(); err != nil {
		t.Fatal(err)
	}
	if w := post(g, "busy", "x", ok); w.Code != 409 || w.Header().Get("Retry-After") != "1" || !strings.HasPrefix(w.Body.String(), "custom: ") {
		t.Fatalf("in flight: %d %q %v", w.Code, w.Body, w.Header())
	}
	if len(seen) != 2 || seen[0].Status != 400 || seen[1].Status != 409 || seen[1].Header.Get("Retry-After") != "1" {
		t.Fatalf("OnReject saw %v", seen)
	}
}

// A Redis failure is logged at warn level and passed to Settings.OnError,
// and the request is refused with 503 and Retry-After.
func TestRedisFailureReported(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	var reported []error
	g, err := New(redistest.Hung(t), Options{Name: "orders", Settings: core.Settings{
		Timeout: 30 * time.Millisecond,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		OnError: func(ctx context.Context, err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	w := post(g, "k", "x", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs.Add(1) }))
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || runs.Load() != 0 {
		t.Fatalf("%d %v, runs %d", w.Code, w.Header(), runs.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !strings.HasPrefix(reported[0].Error(), "idempotency: ") {
		t.Fatalf("OnError got %v", reported)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "guard=orders") {
		t.Fatalf("log: %s", l)
	}
}

// The handler reads the claimed key, as parsed, from its request's
// context; it is absent when nothing was claimed.
func TestKeyFromContext(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	g := newGuard(t, srv, Options{})
	type seen struct {
		key string
		ok  bool
	}
	var got []seen
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := KeyFromContext(r.Context())
		got = append(got, seen{k, ok})
		w.WriteHeader(201)
	})
	send := func(method, key string) {
		r := httptest.NewRequest(method, "/orders", strings.NewReader("x"))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		g.ServeHTTP(httptest.NewRecorder(), r, h)
	}
	send(http.MethodPost, `"order-7"`) // claimed: the parsed key
	send(http.MethodPost, `"order-7"`) // replayed: the handler does not run
	send(http.MethodPost, "")          // no key: runs unprotected
	send(http.MethodGet, "order-8")    // unguarded method
	want := []seen{{"order-7", true}, {"", false}, {"", false}}
	if len(got) != len(want) {
		t.Fatalf("handler saw %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("handler saw %v, want %v", got, want)
		}
	}
	if k, ok := KeyFromContext(context.Background()); ok || k != "" {
		t.Fatalf("a bare context holds %q", k)
	}
}

// The route of a record is core.Route(r): one route pattern shares records
// whatever the path; another pattern holds records of its own; a request
// without a pattern is core.NoRoute, never its path.
func TestRecordRoute(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	g := newGuard(t, srv, Options{})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	send := func(pattern, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("x"))
		r.RemoteAddr = "192.0.2.1:1"
		r.Pattern = pattern
		r.Header.Set("Idempotency-Key", "k")
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r, ok)
		return w
	}
	exists := func(route string) bool {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = "192.0.2.1:1"
		n, err := srv.Client().Exists(context.Background(), g.recordKey(mustScope(t, g, r), http.MethodPost, route, "k")).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if w := send("POST /items/{id}", "/items/1"); w.Code != 201 || !exists("POST /items/{}") {
		t.Fatalf("first: %d, record under the canonical route: %v", w.Code, exists("POST /items/{}"))
	}
	// Same route, same key, another path: the same record, another request.
	if w := send("/items/{n}", "/items/2"); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("same route, other path: %d", w.Code)
	}
	if w := send("POST /carts/{id}", "/carts/1"); w.Code != 201 || w.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("another route: %d %v", w.Code, w.Header())
	}
	if w := send("", "/anything"); w.Code != 201 || !exists(core.NoRoute) || exists("/anything") {
		t.Fatalf("no route: %d", w.Code)
	}
}

// Without the session middleware, the default scope is the principal (a
// user), else a hash of the Authorization header, else the client address,
// read through Settings.TrustedProxies.
func TestDefaultScope(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	g := newGuard(t, srv, Options{
		Principal: func(r *http.Request) string { return r.Header.Get("X-User") },
		Settings:  core.Settings{TrustedProxies: []string{"10.0.0.0/8"}},
	})
	req := func(remote string, h map[string]string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = remote
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		r    *http.Request
		want string
	}{
		{req("10.0.0.1:1", map[string]string{"X-User": "alice", "Authorization": "Bearer a", "X-Forwarded-For": "198.51.100.7"}), "user\x00alice"},
		{req("10.0.0.1:1", map[string]string{"Authorization": "Bearer a"}), "authorization\x00"},
		{req("10.0.0.1:1", map[string]string{"X-Forwarded-For": "198.51.100.7"}), "address\x00198.51.100.7"},
		{req("192.0.2.1:1", map[string]string{"X-Forwarded-For": "198.51.100.7"}), "address\x00192.0.2.1"},
		{req("[2001:db8::1]:1", nil), "address\x002001:db8::1"},
	} {
		if got := mustScope(t, g, tc.r); !strings.HasPrefix(got, tc.want) || (tc.want == "authorization\x00" && len(got) != len(tc.want)+64) {
			t.Errorf("%s %v: scope %q, want %q", tc.r.RemoteAddr, tc.r.Header, got, tc.want)
		}
	}
	if a, b := mustScope(t, g, req("1.1.1.1:1", map[string]string{"Authorization": "Bearer a"})), mustScope(t, g, req("1.1.1.1:1", map[string]string{"Authorization": "Bearer b"})); a == b {
		t.Error("two Authorization headers share a scope")
	}
}

// Set-Cookie fields the handler sets reach the first client, but are not
// stored, so no replay hands them to whoever retries; StoreSetCookie keeps
// them.
func TestSetCookieNotStored(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "csrf=abc; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "seen=1; Path=/")
		w.Header().Set("X-Order", "7")
		w.WriteHeader(http.StatusCreated)
	})
	for _, tc := range []struct {
		name   string
		store  bool
		replay []string
	}{
		{"default", false, nil},
		{"StoreSetCookie", true, []string{"csrf=abc; Path=/; HttpOnly", "seen=1; Path=/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, srv, Options{Name: tc.name, StoreSetCookie: tc.store})
			first := post(g, "k", "x", h)
			if got := first.Header().Values("Set-Cookie"); first.Code != 201 || len(got) != 2 || got[0] != "csrf=abc; Path=/; HttpOnly" || got[1] != "seen=1; Path=/" {
				t.Fatalf("first: %d, Set-Cookie %q", first.Code, got)
			}
			again := post(g, "k", "x", h)
			if again.Code != 201 || again.Header().Get("Idempotent-Replayed") != "true" || again.Header().Get("X-Order") != "7" {
				t.Fatalf("replay: %d %v", again.Code, again.Header())
			}
			if got := again.Header().Values("Set-Cookie"); !slices.Equal(got, tc.replay) {
				t.Fatalf("replay Set-Cookie %q, want %q", got, tc.replay)
			}
		})
	}
}

// claimWatch is a Redis hook that records the owner token of every run of
// the claim script (its first poll included), so a test knows which
// requests have reached the record.
type claimWatch struct {
	mu     sync.Mutex
	tokens map[string]int
}

func watchClaims(c redis.UniversalClient) *claimWatch {
	cw := &claimWatch{tokens: map[string]int{}}
	c.AddHook(cw)
	return cw
}

func (cw *claimWatch) DialHook(next redis.DialHook) redis.DialHook { return next }

func (cw *claimWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (cw *claimWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if err == nil && len(args) > 4 && (args[1] == claimScript.Hash() || args[1] == claimLua) {
			tok, _ := args[4].(string)
			cw.mu.Lock()
			cw.tokens[tok]++
			cw.mu.Unlock()
		}
		return err
	}
}

// requests returns how many requests ran the claim script at least once.
func (cw *claimWatch) requests() int {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return len(cw.tokens)
}

// calls returns how many claim script runs there were in all.
func (cw *claimWatch) calls() int {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	n := 0
	for _, c := range cw.tokens {
		n += c
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in 20 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A duplicate waiting under WaitInFlight checks the fingerprint of the
// record it is about to replay: when the first claim was released and the
// key then used for another request that completed, the waiter gets 422,
// never the other request's response.
func TestWaitChecksFingerprint(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	cw := watchClaims(client)
	opts := Options{WaitInFlight: 20 * time.Second}
	opts.Prefix, opts.Logger, opts.Timeout = srv.Prefix, quiet, 5*time.Second
	g, err := New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/orders", nil)
	r.RemoteAddr = "192.0.2.1:1"
	scope, err := g.DefaultScope(r)
	if err != nil {
		t.Fatal(err)
	}
	key := g.recordKey(scope, http.MethodPost, core.Route(r), "k")
	ctx := context.Background()
	// Another server's request with body "x" holds the key.
	if err := claimScript.Run(ctx, client, []string{key}, "other", fingerprint(r, []byte("x")), 60_000).Err(); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs.Add(1); w.WriteHeader(201) })
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- post(g, "k", "x", h) }()
	waitUntil(t, "the duplicate's first claim", func() bool { return cw.calls() == 2 })
	// Meanwhile (as one step) that claim is released, and a request with
	// body "y" claims the key and completes.
	other := (&response{status: 201, header: http.Header{"X-Body": {"y"}}, body: []byte("made y"), complete: true}).encode()
	_, err = client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, "st", "d", "fp", fingerprint(r, []byte("y")), "resp", other)
		p.PExpire(ctx, key, time.Minute)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := <-done
	if rec.Code != http.StatusUnprocessableEntity || rec.Header().Get("X-Body") != "" || runs.Load() != 0 {
		t.Fatalf("waiter: %d %v %q, runs %d; want 422 and no run", rec.Code, rec.Header(), rec.Body, runs.Load())
	}
}

// A duplicate waiting under WaitInFlight whose first claim is released (the
// handler panicked) claims the key afresh instead of answering 409: of
// eight waiters exactly one runs the handler, and the seven others replay
// its response.
func TestWaitClaimsAfterRelease(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	client := srv.Client()
	cw := watchClaims(client)
	opts := Options{WaitInFlight: 20 * time.Second}
	opts.Prefix, opts.Logger, opts.Timeout = srv.Prefix, quiet, 5*time.Second
	g, err := New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	unblock := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		if n == 1 {
			<-unblock
			panic("first run fails")
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "run "+strconv.FormatInt(n, 10))
	})
	first := make(chan any, 1)
	go func() {
		defer func() { first <- recover() }()
		post(g, "k", "x", h)
	}()
	waitUntil(t, "the first run", func() bool { return runs.Load() == 1 })
	const waiters = 8
	recs := make([]*httptest.ResponseRecorder, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() { defer wg.Done(); recs[i] = post(g, "k", "x", h) }()
	}
	// Every waiter has seen the claim in flight before it is released.
	waitUntil(t, "every waiter's first poll", func() bool { return cw.requests() == 1+waiters })
	close(unblock)
	if p := <-first; p != "first run fails" {
		t.Fatalf("first request: recovered %v", p)
	}
	wg.Wait()
	if n := runs.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2 (the failed run and one waiter)", n)
	}
	fresh := 0
	for i, rec := range recs {
		if rec.Code != 201 || rec.Body.String() != "run 2" {
			t.Fatalf("waiter %d: %d %q", i, rec.Code, rec.Body)
		}
		if rec.Header().Get("Idempotent-Replayed") == "" {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d waiters ran the handler themselves, want 1", fresh)
	}
}

// mustScope returns the scope g gives r.
func mustScope(t testing.TB, g *Guard, r *http.Request) string {
	t.Helper()
	s, err := g.scope(r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
