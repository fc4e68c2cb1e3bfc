package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/ginmw"
	"github.com/redisware/redisware/internal/conformance"
	"github.com/redisware/redisware/nethttp"
)

const idemKey = `"8e03978e-40d5-43e8-bc93-6894a57f9324"`

// idemApp is a guarded test handler that counts its executions and
// records the key it read with idempotency.KeyFromContext.
type idemApp struct {
	h    http.Handler
	runs atomic.Int64

	mu   sync.Mutex
	keys []string // per execution: the claimed key, "(none)" if absent
}

func (app *idemApp) seenKeys() []string {
	app.mu.Lock()
	defer app.mu.Unlock()
	return append([]string(nil), app.keys...)
}

// newIdemApp serves a handler at /orders behind a guard with opts; the
// handler answers 201 with multi-value headers, or what the request's
// X-Behave header asks for (panic, 500, a large body, block until unblock
// is closed; block-panic and block-500 block, then fail).
func newIdemApp(t *testing.T, a conformance.Adapter, opts idempotency.Options, hung bool, unblock chan struct{}) *idemApp {
	t.Helper()
	opts.Timeout = 2 * time.Second
	opts.Logger = quiet
	var g *idempotency.Guard
	var err error
	if hung {
		opts.Timeout = 30 * time.Millisecond
		g, err = idempotency.New(redistest.Hung(t), opts)
	} else {
		srv := redistest.New(t)
		opts.Prefix = srv.Prefix
		g, err = idempotency.New(srv.Client(), opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	app := &idemApp{}
	app.h = a.Idempotency(g, func(w http.ResponseWriter, r *http.Request) {
		n := app.runs.Add(1)
		key, ok := idempotency.KeyFromContext(r.Context())
		if !ok {
			key = "(none)"
		}
		app.mu.Lock()
		app.keys = append(app.keys, key)
		app.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		switch r.Header.Get("X-Behave") {
		case "panic":
			panic("handler failed")
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case "large":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
			return
		case "block":
			<-unblock
		case "block-panic":
			<-unblock
			panic("handler failed")
		case "block-500":
			<-unblock
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.Header().Add("Set-Cookie", "a=1; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "b=2; Path=/; HttpOnly")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"run": n, "echo": string(body)})
	}, "/orders")
	return app
}

type idemReq struct {
	method, target, body, key string
	header                    map[string]string
}

func (app *idemApp) do(t *testing.T, q idemReq) *httptest.ResponseRecorder {
	t.Helper()
	if q.method == "" {
		q.method = http.MethodPost
	}
	if q.target == "" {
		q.target = "/orders"
	}
	req := httptest.NewRequest(q.method, q.target, strings.NewReader(q.body)).WithContext(context.Background())
	req.RemoteAddr = "192.0.2.1:1234"
	if q.key != "" {
		req.Header.Set("Idempotency-Key", q.key)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil && p != "handler failed" && p != http.ErrAbortHandler {
				panic(p)
			}
		}()
		app.h.ServeHTTP(rec, req)
	}()
	return rec
}

func wantProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, detailPart string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if p["status"] != float64(status) || p["title"] != http.StatusText(status) || !strings.Contains(p["detail"].(string), detailPart) {
		t.Fatalf("problem %v, want detail containing %q", p, detailPart)
	}
}

func TestIdempotencyConformance(t *testing.T) {
	t.Parallel()
	for _, a := range conformance.Adapters() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("replay", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				first := app.do(t, idemReq{key: idemKey, body: `{"item":"book"}`})
				if first.Code != 201 || first.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("first: %d %v", first.Code, first.Header())
				}
				for i := 0; i < 3; i++ {
					again := app.do(t, idemReq{key: idemKey, body: `{"item":"book"}`})
					if again.Code != 201 || again.Body.String() != first.Body.String() {
						t.Fatalf("retry %d: %d %q, want %q", i, again.Code, again.Body, first.Body)
					}
					if again.Header().Get("Idempotent-Replayed") != "true" {
						t.Fatalf("retry %d: no Idempotent-Replayed", i)
					}
					for _, h := range []string{"X-Multi", "Content-Type"} {
						if !reflect.DeepEqual(again.Header().Values(h), first.Header().Values(h)) {
							t.Fatalf("retry %d: %s = %q, want %q", i, h, again.Header().Values(h), first.Header().Values(h))
						}
					}
					// Cookies reach the first client only, unless StoreSetCookie.
					if got := again.Header().Values("Set-Cookie"); len(got) != 0 {
						t.Fatalf("retry %d: Set-Cookie %q replayed", i, got)
					}
				}
				if got, want := first.Header().Values("Set-Cookie"), []string{"a=1; Path=/; HttpOnly", "b=2; Path=/; HttpOnly"}; !reflect.DeepEqual(got, want) {
					t.Fatalf("first: Set-Cookie %q, want %q", got, want)
				}
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
				// Bare-token form of the same key is the same key.
				if again := app.do(t, idemReq{key: strings.Trim(idemKey, `"`), body: `{"item":"book"}`}); again.Header().Get("Idempotent-Replayed") != "true" {
					t.Fatal("bare token form not recognised as the same key")
				}
			})
			t.Run("store set-cookie", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{StoreSetCookie: true}, false, nil)
				first := app.do(t, idemReq{key: idemKey, body: "x"})
				again := app.do(t, idemReq{key: idemKey, body: "x"})
				want := []string{"a=1; Path=/; HttpOnly", "b=2; Path=/; HttpOnly"}
				if !reflect.DeepEqual(first.Header().Values("Set-Cookie"), want) || !reflect.DeepEqual(again.Header().Values("Set-Cookie"), want) ||
					again.Header().Get("Idempotent-Replayed") != "true" {
					t.Fatalf("first %q, replay %q (%v), want %q on both", first.Header().Values("Set-Cookie"), again.Header().Values("Set-Cookie"), again.Header(), want)
				}
			})
			t.Run("mismatch", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				app.do(t, idemReq{key: idemKey, body: `{"item":"book"}`})
				wantProblem(t, app.do(t, idemReq{key: idemKey, body: `{"item":"pen"}`}), 422, "different request")
				wantProblem(t, app.do(t, idemReq{target: "/orders?express=1", key: idemKey, body: `{"item":"book"}`}), 422, "different request")
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
				// The method is part of the record's identity: the same key on
				// PATCH is another record, not a mismatch.
				if rec := app.do(t, idemReq{method: http.MethodPatch, key: idemKey, body: `{"item":"book"}`}); rec.Code != 201 {
					t.Fatalf("PATCH with the key of a POST: %d", rec.Code)
				}
			})
			t.Run("bad keys", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{Required: true}, false, nil)
				wantProblem(t, app.do(t, idemReq{body: "x"}), 400, "requires an Idempotency-Key")
				wantProblem(t, app.do(t, idemReq{key: strings.Repeat("k", 256), body: "x"}), 400, "at most 255")
				wantProblem(t, app.do(t, idemReq{key: `"unterminated`, body: "x"}), 400, "unterminated")
				wantProblem(t, app.do(t, idemReq{key: "has space", body: "x"}), 400, "not allowed")
				if n := app.runs.Load(); n != 0 {
					t.Fatalf("handler ran %d times", n)
				}
				// Unguarded methods pass through, key or not.
				for i := 0; i < 2; i++ {
					if rec := app.do(t, idemReq{method: http.MethodGet}); rec.Code != 201 {
						t.Fatalf("GET: %d", rec.Code)
					}
				}
				if n := app.runs.Load(); n != 2 {
					t.Fatalf("GET ran %d times, want 2", n)
				}
			})
			t.Run("optional key", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				app.do(t, idemReq{body: "x"})
				app.do(t, idemReq{body: "x"})
				if n := app.runs.Load(); n != 2 {
					t.Fatalf("without a key the handler ran %d times, want 2", n)
				}
			})
			t.Run("body too large", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{MaxBodyBytes: 10}, false, nil)
				wantProblem(t, app.do(t, idemReq{key: idemKey, body: "01234567890"}), 413, "larger than 10 bytes")
				if rec := app.do(t, idemReq{key: idemKey, body: "0123456789"}); rec.Code != 201 || !strings.Contains(rec.Body.String(), `"echo":"0123456789"`) {
					t.Fatalf("body at the limit: %d %s (the handler must see the body unchanged)", rec.Code, rec.Body)
				}
			})
			t.Run("response too large to keep", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{MaxStoredBytes: 1024}, false, nil)
				if rec := app.do(t, idemReq{key: idemKey, header: map[string]string{"X-Behave": "large"}}); rec.Code != 201 || rec.Body.Len() != 2048 {
					t.Fatalf("first: %d, %d bytes", rec.Code, rec.Body.Len())
				}
				wantProblem(t, app.do(t, idemReq{key: idemKey, header: map[string]string{"X-Behave": "large"}}), 409, "too large")
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
			})
			t.Run("in flight", func(t *testing.T) {
				t.Parallel()
				unblock := make(chan struct{})
				app := newIdemApp(t, a, idempotency.Options{}, false, unblock)
				q := idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "block"}}
				done := make(chan *httptest.ResponseRecorder)
				go func() { done <- app.do(t, q) }()
				waitFor(t, func() bool { return app.runs.Load() == 1 })
				dup := app.do(t, q)
				wantProblem(t, dup, 409, "still being processed")
				if dup.Header().Get("Retry-After") != "1" {
					t.Fatalf("409 Retry-After %q", dup.Header().Get("Retry-After"))
				}
				close(unblock)
				first := <-done
				if again := app.do(t, q); again.Body.String() != first.Body.String() || again.Code != 201 {
					t.Fatalf("after completion: %d %s", again.Code, again.Body)
				}
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
			})
			t.Run("wait in flight", func(t *testing.T) {
				t.Parallel()
				unblock := make(chan struct{})
				app := newIdemApp(t, a, idempotency.Options{WaitInFlight: 20 * time.Second}, false, unblock)
				q := idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "block"}}
				var wg sync.WaitGroup
				recs := make([]*httptest.ResponseRecorder, 2)
				wg.Add(1)
				go func() { defer wg.Done(); recs[0] = app.do(t, q) }()
				waitFor(t, func() bool { return app.runs.Load() == 1 })
				wg.Add(1)
				go func() { defer wg.Done(); recs[1] = app.do(t, q) }()
				time.Sleep(50 * time.Millisecond) // let the duplicate start waiting; not an assertion
				close(unblock)
				wg.Wait()
				if recs[1].Code != 201 || recs[1].Body.String() != recs[0].Body.String() || recs[1].Header().Get("Idempotent-Replayed") != "true" {
					t.Fatalf("waiting duplicate: %d %s", recs[1].Code, recs[1].Body)
				}
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
			})
			t.Run("wait in flight, another body", func(t *testing.T) {
				t.Parallel()
				unblock := make(chan struct{})
				app := newIdemApp(t, a, idempotency.Options{WaitInFlight: 20 * time.Second}, false, unblock)
				done := make(chan *httptest.ResponseRecorder, 1)
				go func() {
					done <- app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "block"}})
				}()
				waitFor(t, func() bool { return app.runs.Load() == 1 })
				// The record in flight already holds its fingerprint: no wait.
				wantProblem(t, app.do(t, idemReq{key: idemKey, body: "y", header: map[string]string{"X-Behave": "block"}}), 422, "different request")
				close(unblock)
				if first := <-done; first.Code != 201 {
					t.Fatalf("first: %d", first.Code)
				}
				wantProblem(t, app.do(t, idemReq{key: idemKey, body: "y"}), 422, "different request")
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
			})
			for _, failure := range []string{"panic", "500"} {
				t.Run("wait in flight, released claim after "+failure, func(t *testing.T) {
					t.Parallel()
					unblock := make(chan struct{})
					app := newIdemApp(t, a, idempotency.Options{WaitInFlight: 20 * time.Second, ReleaseOn5xx: true}, false, unblock)
					done := make(chan struct{})
					go func() {
						defer close(done)
						app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "block-" + failure}})
					}()
					waitFor(t, func() bool { return app.runs.Load() == 1 })
					const waiters = 6
					recs := make([]*httptest.ResponseRecorder, waiters)
					var wg sync.WaitGroup
					for i := range waiters {
						wg.Add(1)
						go func() { defer wg.Done(); recs[i] = app.do(t, idemReq{key: idemKey, body: "x"}) }()
					}
					time.Sleep(100 * time.Millisecond) // let the waiters start waiting; not an assertion
					close(unblock)
					<-done
					wg.Wait()
					if n := app.runs.Load(); n != 2 {
						t.Fatalf("handler ran %d times, want 2 (the failed run and one waiter)", n)
					}
					fresh := 0
					for i, rec := range recs {
						if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"run":2`) {
							t.Fatalf("waiter %d: %d %s", i, rec.Code, rec.Body)
						}
						if rec.Header().Get("Idempotent-Replayed") == "" {
							fresh++
						}
					}
					if fresh != 1 {
						t.Fatalf("%d waiters ran the handler, want 1", fresh)
					}
				})
			}
			t.Run("panic releases the claim", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "panic"}})
				if rec := app.do(t, idemReq{key: idemKey, body: "x"}); rec.Code != 201 || rec.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("retry after a panic: %d %v", rec.Code, rec.Header())
				}
				if n := app.runs.Load(); n != 2 {
					t.Fatalf("handler ran %d times, want 2", n)
				}
			})
			t.Run("5xx stored by default", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				q := idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "500"}}
				app.do(t, q)
				if rec := app.do(t, q); rec.Code != 500 || rec.Header().Get("Idempotent-Replayed") != "true" || rec.Body.String() != "boom\n" {
					t.Fatalf("retry of a 500: %d %q %v", rec.Code, rec.Body, rec.Header())
				}
				if n := app.runs.Load(); n != 1 {
					t.Fatalf("handler ran %d times", n)
				}
			})
			t.Run("release on 5xx", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{ReleaseOn5xx: true}, false, nil)
				app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"X-Behave": "500"}})
				if rec := app.do(t, idemReq{key: idemKey, body: "x"}); rec.Code != 201 || rec.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("retry: %d", rec.Code)
				}
				if n := app.runs.Load(); n != 2 {
					t.Fatalf("handler ran %d times, want 2", n)
				}
			})
			t.Run("scopes", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				alice := app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"Authorization": "Bearer alice"}})
				bob := app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"Authorization": "Bearer bob"}})
				anon := app.do(t, idemReq{key: idemKey, body: "x"})
				if bob.Header().Get("Idempotent-Replayed") != "" || anon.Header().Get("Idempotent-Replayed") != "" || bob.Body.String() == alice.Body.String() {
					t.Fatal("a response crossed scopes")
				}
				if again := app.do(t, idemReq{key: idemKey, body: "x", header: map[string]string{"Authorization": "Bearer alice"}}); again.Body.String() != alice.Body.String() {
					t.Fatalf("alice's retry got %s, want %s", again.Body, alice.Body)
				}
				if n := app.runs.Load(); n != 3 {
					t.Fatalf("handler ran %d times, want 3", n)
				}
			})
			t.Run("key in context", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, false, nil)
				app.do(t, idemReq{key: idemKey, body: "x"})                             // claimed
				app.do(t, idemReq{key: idemKey, body: "x"})                             // replayed: no run
				app.do(t, idemReq{body: "x"})                                           // no key
				app.do(t, idemReq{method: http.MethodGet, key: "get-key"})              // unguarded
				app.do(t, idemReq{method: http.MethodPatch, key: "patch-1", body: "x"}) // a bare token
				want := []string{strings.Trim(idemKey, `"`), "(none)", "(none)", "patch-1"}
				if got := app.seenKeys(); !reflect.DeepEqual(got, want) {
					t.Fatalf("the handler read %q, want %q", got, want)
				}
			})
			t.Run("custom rejection", func(t *testing.T) {
				t.Parallel()
				opts := idempotency.Options{Required: true}
				opts.OnReject = func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
					w.WriteHeader(rej.Status)
					_, _ = io.WriteString(w, "refused: "+rej.Detail)
				}
				app := newIdemApp(t, a, opts, false, nil)
				rec := app.do(t, idemReq{body: "x"})
				if rec.Code != 400 || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
					rec.Body.String() != "refused: This request requires an Idempotency-Key header." {
					t.Fatalf("%d %v %q", rec.Code, rec.Header(), rec.Body)
				}
				if n := app.runs.Load(); n != 0 {
					t.Fatalf("handler ran %d times", n)
				}
			})
			t.Run("redis unavailable", func(t *testing.T) {
				t.Parallel()
				app := newIdemApp(t, a, idempotency.Options{}, true, nil)
				wantProblem(t, app.do(t, idemReq{key: idemKey, body: "x"}), 503, "not run")
				if n := app.runs.Load(); n != 0 {
					t.Fatalf("handler ran %d times without a claim", n)
				}
			})
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// mountSessionIdempotency serves h at POST /orders behind the session
// middleware and, inside it, the guard, as apps mount them in each
// framework; POST /login binds the session to the user X-Login names.
func mountSessionIdempotency(name string, m *session.Manager, g *idempotency.Guard, h http.HandlerFunc) http.Handler {
	login := func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Login(r.Header.Get("X-Login"))
		w.WriteHeader(http.StatusNoContent)
	}
	switch name {
	case "gin":
		gin.SetMode(gin.ReleaseMode)
		e := gin.New()
		e.POST("/orders", ginmw.Session(m), ginmw.Idempotency(g), func(c *gin.Context) { h(c.Writer, c.Request) })
		e.POST("/login", ginmw.Session(m), func(c *gin.Context) { login(c.Writer, c.Request) })
		return e
	case "echo":
		e := echo.New()
		e.HTTPErrorHandler = echomw.ErrorHandler(nil)
		e.POST("/orders", func(c echo.Context) error { h(c.Response(), c.Request()); return nil }, echomw.Session(m), echomw.Idempotency(g))
		e.POST("/login", func(c echo.Context) error { login(c.Response(), c.Request()); return nil }, echomw.Session(m))
		return e
	}
	mux := http.NewServeMux()
	mux.Handle("POST /orders", nethttp.Session(m)(nethttp.Idempotency(g)(h)))
	mux.Handle("POST /login", nethttp.Session(m)(http.HandlerFunc(login)))
	return mux
}

// The default scope follows the session's user, not the address: two
// users behind one address with the same key and body each get their own
// order and their own replays; a user who retries from a new address gets
// the replay. When the session cannot be loaded the guard answers 503 and
// the handler never runs.
func TestIdempotencySessionScope(t *testing.T) {
	t.Parallel()
	for _, a := range conformance.Adapters() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			set := core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second, Logger: quiet}
			m, err := session.New(srv.Client(), session.Options{Settings: set})
			if err != nil {
				t.Fatal(err)
			}
			g, err := idempotency.New(srv.Client(), idempotency.Options{Settings: set})
			if err != nil {
				t.Fatal(err)
			}
			var runs atomic.Int64
			orders := func(w http.ResponseWriter, r *http.Request) {
				n := runs.Add(1)
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, fmt.Sprintf("order %d of %s", n, session.FromContext(r.Context()).User()))
			}
			h := mountSessionIdempotency(a.Name, m, g, orders)
			do := func(h http.Handler, addr, cookie, path string, header map[string]string) *httptest.ResponseRecorder {
				t.Helper()
				r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"item":"book"}`))
				r.RemoteAddr = addr
				if cookie != "" {
					r.AddCookie(&http.Cookie{Name: "session", Value: cookie})
				}
				for k, v := range header {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			login := func(user string) string {
				t.Helper()
				w := do(h, "192.0.2.1:1000", "", "/login", map[string]string{"X-Login": user})
				for _, c := range w.Result().Cookies() {
					if c.Name == "session" && w.Code == http.StatusNoContent {
						return c.Value
					}
				}
				t.Fatalf("login %s: %d %v", user, w.Code, w.Header())
				return ""
			}
			order := func(addr, cookie, want string, replayed bool) {
				t.Helper()
				w := do(h, addr, cookie, "/orders", map[string]string{"Idempotency-Key": idemKey})
				if w.Code != 201 || w.Body.String() != want || (w.Header().Get("Idempotent-Replayed") == "true") != replayed {
					t.Fatalf("%s: %d %q (replayed %q), want %q (replayed %v)", addr, w.Code, w.Body, w.Header().Get("Idempotent-Replayed"), want, replayed)
				}
			}
			alice, bob := login("alice"), login("bob")
			order("192.0.2.1:1000", alice, "order 1 of alice", false)
			order("192.0.2.1:2000", bob, "order 2 of bob", false)
			order("192.0.2.1:1000", alice, "order 1 of alice", true)
			order("192.0.2.1:2000", bob, "order 2 of bob", true)
			order("198.51.100.9:3000", alice, "order 1 of alice", true) // Wi-Fi to mobile
			if n := runs.Load(); n != 2 {
				t.Fatalf("handler ran %d times, want 2", n)
			}

			// The sessions' Redis is down: the guard refuses with 503 (which
			// the session middleware answers as its own), and nothing runs.
			down, err := session.New(redistest.Hung(t), session.Options{Settings: core.Settings{Timeout: 30 * time.Millisecond, Logger: quiet}})
			if err != nil {
				t.Fatal(err)
			}
			var refused atomic.Int64
			gset := set
			gset.OnReject = func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
				if rej.Status == http.StatusServiceUnavailable && errors.Is(rej, session.ErrUnavailable) {
					refused.Add(1)
				}
				rej.Write(w)
			}
			gd, err := idempotency.New(srv.Client(), idempotency.Options{Settings: gset})
			if err != nil {
				t.Fatal(err)
			}
			hd := mountSessionIdempotency(a.Name, down, gd, orders)
			wantProblem(t, do(hd, "192.0.2.1:1000", alice, "/orders", map[string]string{"Idempotency-Key": idemKey}), 503, "unavailable")
			if n := runs.Load(); n != 2 || refused.Load() != 1 {
				t.Fatalf("with the session unavailable: handler ran %d times in all (want 2), the guard refused %d times (want 1)", n, refused.Load())
			}
		})
	}
}
