package idempotency

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	key := g.recordKey(g.scope(r), http.MethodPost, "/orders", "k1")
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
	key := g.recordKey(g.scope(r), http.MethodPost, "/orders", "k2")
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

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for i, o := range []Options{{MaxBodyBytes: -1}, {Retention: time.Millisecond}, {ClaimTTL: time.Millisecond}, {TrustedProxies: []string{"nope"}}} {
		if _, err := New(srv.Client(), o); err == nil {
			t.Errorf("options %d accepted", i)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil client accepted")
	}
}
