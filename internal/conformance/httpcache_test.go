package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/ginmw"
	"github.com/redisware/redisware/internal/conformance"
	"github.com/redisware/redisware/nethttp"
)

// cacheApp is a cached test handler that counts its executions.
type cacheApp struct {
	h    http.Handler
	c    *httpcache.Cache
	runs atomic.Int64
	fail atomic.Bool // answer 500 instead
}

// newCacheApp serves, behind a cache with opts (and opts.Route), /page (max-age=60, two
// multi-value fields, Surrogate-Key), /private, /cookie, /etag (ETag and
// Last-Modified), /swr (max-age=1, stale-while-revalidate and
// stale-if-error), /slow (as /page, after 100 ms) and /items (POST
// answers 201 with Location: /page).
func newCacheApp(t *testing.T, a conformance.Adapter, opts httpcache.Options, hung bool) *cacheApp {
	t.Helper()
	opts.Logger = quiet
	var rdb = redistest.Hung(t)
	if hung {
		opts.Timeout = 30 * time.Millisecond
	} else {
		srv := redistest.New(t)
		opts.Prefix = srv.Prefix
		opts.Timeout = 5 * time.Second
		rdb = srv.Client()
	}
	c, err := httpcache.New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	app := &cacheApp{c: c}
	app.h = a.HTTPCache(c, func(w http.ResponseWriter, r *http.Request) {
		n := app.runs.Add(1)
		h := w.Header()
		if r.Method == http.MethodPost {
			h.Set("Location", "/page")
			w.WriteHeader(http.StatusCreated)
			return
		}
		if app.fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "max-age=60")
		switch r.URL.Path {
		case "/private":
			h.Set("Cache-Control", "private, max-age=60")
		case "/cookie":
			h.Add("Set-Cookie", fmt.Sprintf("sid=%d; HttpOnly", n))
		case "/etag":
			h.Set("ETag", `"v1"`)
			h.Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
		case "/swr":
			h.Set("Cache-Control", "max-age=1, stale-while-revalidate=60, stale-if-error=60")
		case "/slow":
			time.Sleep(100 * time.Millisecond)
		}
		h.Add("X-Multi", "one")
		h.Add("X-Multi", "two")
		h.Set("Surrogate-Key", "page all")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{"run": n, "q": r.URL.RawQuery})
	}, "/page", "/private", "/cookie", "/etag", "/swr", "/slow", "/items")
	return app
}

func (app *cacheApp) do(t *testing.T, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil).WithContext(context.Background())
	for _, l := range header {
		k, v, _ := strings.Cut(l, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	rec := httptest.NewRecorder()
	app.h.ServeHTTP(rec, req)
	return rec
}

func (app *cacheApp) get(t *testing.T, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	return app.do(t, http.MethodGet, target, header...)
}

func (app *cacheApp) wantRuns(t *testing.T, n int64) {
	t.Helper()
	if got := app.runs.Load(); got != n {
		t.Fatalf("handler ran %d times, want %d", got, n)
	}
}

func cacheStatus(rec *httptest.ResponseRecorder) string { return rec.Header().Get("Cache-Status") }

func wantCacheHit(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !strings.HasPrefix(cacheStatus(rec), "redisware; hit") {
		t.Fatalf("want a hit: %d Cache-Status %q body %q", rec.Code, cacheStatus(rec), rec.Body)
	}
}

func TestHTTPCacheConformance(t *testing.T) {
	t.Parallel()
	for _, a := range conformance.Adapters() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("hit", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				first := app.get(t, "/page?b=2&a=1")
				if first.Code != 200 || cacheStatus(first) != "redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60" {
					t.Fatalf("miss: %d %q", first.Code, cacheStatus(first))
				}
				if first.Header().Get("Surrogate-Key") != "" {
					t.Fatal("the tag field reached the client")
				}
				for i := 0; i < 3; i++ {
					hit := app.get(t, "/page?a=1&b=2")
					wantCacheHit(t, hit)
					if hit.Body.String() != first.Body.String() || hit.Code != 200 || hit.Header().Get("Age") == "" {
						t.Fatalf("hit %d: %d %q, want %q", i, hit.Code, hit.Body, first.Body)
					}
					for _, k := range []string{"X-Multi", "Content-Type", "Cache-Control"} {
						if !reflect.DeepEqual(hit.Header().Values(k), first.Header().Values(k)) {
							t.Fatalf("hit %s = %q, want %q", k, hit.Header().Values(k), first.Header().Values(k))
						}
					}
				}
				head := app.do(t, http.MethodHead, "/page?a=1&b=2")
				wantCacheHit(t, head)
				if head.Body.Len() != 0 || head.Header().Get("Content-Length") != fmt.Sprint(first.Body.Len()) {
					t.Fatalf("HEAD: %q %v", head.Body, head.Header())
				}
				app.wantRuns(t, 1)
			})
			t.Run("not shared", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				for i := 1; i <= 2; i++ {
					if rec := app.get(t, "/private"); strings.Contains(cacheStatus(rec), "hit") || !strings.Contains(rec.Body.String(), fmt.Sprintf(`"run":%d`, 2*i-1)) {
						t.Fatalf("private %d: %q %q", i, cacheStatus(rec), rec.Body)
					}
					rec := app.get(t, "/cookie")
					if strings.Contains(cacheStatus(rec), "hit") || rec.Header().Get("Set-Cookie") != fmt.Sprintf("sid=%d; HttpOnly", 2*i) {
						t.Fatalf("cookie %d: %q %v", i, cacheStatus(rec), rec.Header())
					}
				}
				if rec := app.get(t, "/page", "Authorization: Bearer alice"); strings.Contains(cacheStatus(rec), "stored") {
					t.Fatalf("a response to an authorized request was stored: %q", cacheStatus(rec))
				}
				if rec := app.get(t, "/page"); strings.Contains(cacheStatus(rec), "hit") {
					t.Fatal("an anonymous request got the authorized response")
				}
			})
			t.Run("conditional", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				if rec := app.get(t, "/etag", `If-None-Match: "v1"`); rec.Code != 304 || rec.Body.Len() != 0 || rec.Header().Get("ETag") != `"v1"` {
					t.Fatalf("conditional miss: %d %q %v", rec.Code, rec.Body, rec.Header())
				}
				if rec := app.get(t, "/etag", "If-Modified-Since: Fri, 02 Jan 2026 03:04:05 GMT"); rec.Code != 304 || !strings.Contains(cacheStatus(rec), "hit") {
					t.Fatalf("conditional hit: %d %q", rec.Code, cacheStatus(rec))
				}
				if rec := app.get(t, "/etag", `If-None-Match: "v0"`); rec.Code != 200 || rec.Body.Len() == 0 {
					t.Fatalf("unmatched condition: %d", rec.Code)
				}
				app.wantRuns(t, 1)
			})
			t.Run("only-if-cached", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				rec := app.get(t, "/page", "Cache-Control: only-if-cached")
				if rec.Code != 504 || rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(cacheStatus(rec), "only-if-cached") {
					t.Fatalf("only-if-cached: %d %v %q", rec.Code, rec.Header(), rec.Body)
				}
				app.wantRuns(t, 0)
				app.get(t, "/page")
				if rec := app.get(t, "/page", "Cache-Control: only-if-cached"); rec.Code != 200 {
					t.Fatalf("only-if-cached with a stored response: %d", rec.Code)
				}
			})
			t.Run("only-if-cached OnReject", func(t *testing.T) {
				t.Parallel()
				var rejected atomic.Int64
				opts := httpcache.Options{}
				opts.OnReject = func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
					rejected.Add(1)
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
					w.WriteHeader(rej.Status)
					_, _ = fmt.Fprint(w, "not cached: ", r.URL.Path)
				}
				app := newCacheApp(t, a, opts, false)
				rec := app.get(t, "/page", "Cache-Control: only-if-cached")
				if rec.Code != 504 || rec.Body.String() != "not cached: /page" || rejected.Load() != 1 ||
					!strings.Contains(cacheStatus(rec), "only-if-cached") {
					t.Fatalf("only-if-cached with OnReject: %d %v %q", rec.Code, rec.Header(), rec.Body)
				}
				app.wantRuns(t, 0)
			})
			t.Run("route options", func(t *testing.T) {
				t.Parallel()
				// Options.Route applies to the routes the cache serves:
				// tags from the request only, the tag field left alone.
				opts := httpcache.Options{Route: httpcache.Route{
					Tags:       func(r *http.Request) []string { return []string{"path:" + r.URL.Path} },
					TagHeaders: []string{},
				}}
				app := newCacheApp(t, a, opts, false)
				if rec := app.get(t, "/page"); rec.Header().Get("Surrogate-Key") != "page all" {
					t.Fatalf("Surrogate-Key %q with no TagHeaders", rec.Header().Get("Surrogate-Key"))
				}
				if n, err := app.c.InvalidateTags(t.Context(), "page"); err != nil || n != 0 {
					t.Fatalf("InvalidateTags(page) = %d, %v; want nothing tagged", n, err)
				}
				wantCacheHit(t, app.get(t, "/page"))
				if n, err := app.c.InvalidateTags(t.Context(), "path:/page"); err != nil || n != 1 {
					t.Fatalf("InvalidateTags(path:/page) = %d, %v", n, err)
				}
				if rec := app.get(t, "/page"); strings.Contains(cacheStatus(rec), "hit") {
					t.Fatal("still stored")
				}
				app.wantRuns(t, 2)
			})
			t.Run("unsafe invalidates", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				app.get(t, "/page")
				wantCacheHit(t, app.get(t, "/page"))
				if rec := app.do(t, http.MethodPost, "/items"); rec.Code != 201 {
					t.Fatalf("POST: %d", rec.Code)
				}
				if rec := app.get(t, "/page"); strings.Contains(cacheStatus(rec), "hit") {
					t.Fatal("the Location of a POST was not invalidated")
				}
				app.wantRuns(t, 3)
			})
			t.Run("tags", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				app.get(t, "/page?x=1")
				app.get(t, "/page?x=2")
				if n, err := app.c.InvalidateTags(t.Context(), "page"); err != nil || n != 2 {
					t.Fatalf("InvalidateTags = %d, %v", n, err)
				}
				if rec := app.get(t, "/page?x=1"); strings.Contains(cacheStatus(rec), "hit") {
					t.Fatal("still stored")
				}
			})
			t.Run("stale", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				first := app.get(t, "/swr")
				time.Sleep(1100 * time.Millisecond)
				stale := app.get(t, "/swr")
				if stale.Body.String() != first.Body.String() || !strings.Contains(cacheStatus(stale), "stale-while-revalidate") {
					t.Fatalf("stale-while-revalidate: %q %q", stale.Body, cacheStatus(stale))
				}
				waitFor(t, func() bool { return app.runs.Load() == 2 })
				var refreshed string
				waitFor(t, func() bool {
					rec := app.get(t, "/swr")
					refreshed = rec.Body.String()
					return strings.Contains(refreshed, `"run":2`)
				})
				time.Sleep(1100 * time.Millisecond)
				app.fail.Store(true)
				// the refresh that serving stale starts fails too, and keeps the stale entry
				rec := app.get(t, "/swr", "Cache-Control: max-age=0")
				if rec.Code != 200 || rec.Body.String() != refreshed || !strings.Contains(cacheStatus(rec), "stale-if-error") {
					t.Fatalf("stale-if-error: %d %q %q", rec.Code, rec.Body, cacheStatus(rec))
				}
			})
			t.Run("stampede", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, false)
				var wg sync.WaitGroup
				recs := make([]*httptest.ResponseRecorder, 50)
				for i := range recs {
					wg.Go(func() { recs[i] = app.get(t, "/slow") })
				}
				wg.Wait()
				app.wantRuns(t, 1)
				for i, rec := range recs {
					if rec.Code != 200 || rec.Body.String() != recs[0].Body.String() || len(rec.Header().Values("X-Multi")) != 2 {
						t.Fatalf("response %d: %d %q", i, rec.Code, rec.Body)
					}
				}
			})
			t.Run("redis unavailable", func(t *testing.T) {
				t.Parallel()
				app := newCacheApp(t, a, httpcache.Options{}, true)
				for i := 1; i <= 2; i++ {
					rec := app.get(t, "/page")
					if rec.Code != 200 || !strings.Contains(rec.Body.String(), fmt.Sprintf(`"run":%d`, i)) || !strings.Contains(cacheStatus(rec), "fwd=bypass") {
						t.Fatalf("request %d: %d %q %q", i, rec.Code, rec.Body, cacheStatus(rec))
					}
				}
			})
		})
	}
}

// mountSessionCache serves GET /greeting behind the session middleware
// (on the whole app) and, inside it, the cache (on the route), as the
// README lays them out in each framework; POST /login binds the session to
// the user X-Login names.
func mountSessionCache(name string, m *session.Manager, c *httpcache.Cache, greet http.HandlerFunc) http.Handler {
	login := func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Login(r.Header.Get("X-Login"))
		w.WriteHeader(http.StatusNoContent)
	}
	switch name {
	case "gin":
		gin.SetMode(gin.ReleaseMode)
		e := gin.New()
		e.Use(ginmw.Session(m))
		e.GET("/greeting", ginmw.HTTPCache(c), func(gc *gin.Context) { greet(gc.Writer, gc.Request) })
		e.POST("/login", func(gc *gin.Context) { login(gc.Writer, gc.Request) })
		return e
	case "echo":
		e := echo.New()
		e.HTTPErrorHandler = echomw.ErrorHandler(nil)
		e.Use(echomw.Session(m))
		e.GET("/greeting", func(ec echo.Context) error { greet(ec.Response(), ec.Request()); return nil }, echomw.HTTPCache(c))
		e.POST("/login", func(ec echo.Context) error { login(ec.Response(), ec.Request()); return nil })
		return e
	}
	mux := http.NewServeMux()
	mux.Handle("GET /greeting", nethttp.HTTPCache(c)(greet))
	mux.HandleFunc("POST /login", login)
	return nethttp.Session(m)(mux)
}

// With the session middleware around the cache, each user gets their own
// page and guests share one, in every order: guest then user, user then
// guest, user A then user B; whether the page says max-age=30, as real
// handlers wrongly do for pages built from the session, or nothing, on a
// route with a DefaultTTL. The variant is keyed on the session, not on
// every cookie, so analytics cookies do not split the guests' entry; and
// every response, hit or miss, says Vary: Cookie to caches downstream.
func TestHTTPCacheUnderSession(t *testing.T) {
	t.Parallel()
	for _, a := range conformance.Adapters() {
		for _, tc := range []struct {
			name  string
			order []string // users; "" is a guest
		}{
			{"guest then user", []string{"", "alice", "", "alice"}},
			{"user then guest", []string{"alice", "", "alice", ""}},
			{"user A then user B", []string{"alice", "bob", "alice", "bob"}},
		} {
			for _, defaultTTL := range []bool{false, true} {
				order := tc.order
				name := a.Name + "/" + tc.name + "/max-age"
				if defaultTTL {
					name = a.Name + "/" + tc.name + "/DefaultTTL"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					srv := redistest.New(t)
					set := core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second, Logger: quiet}
					m, err := session.New(srv.Client(), session.Options{Settings: set})
					if err != nil {
						t.Fatal(err)
					}
					opts := httpcache.Options{Settings: set}
					if defaultTTL {
						opts.Route.DefaultTTL = time.Minute
					}
					c, err := httpcache.New(srv.Client(), opts)
					if err != nil {
						t.Fatal(err)
					}
					var runs atomic.Int64
					greet := func(w http.ResponseWriter, r *http.Request) {
						runs.Add(1)
						s := session.FromContext(r.Context())
						if err := s.Load(r.Context()); err != nil {
							http.Error(w, "no session", http.StatusServiceUnavailable)
							return
						}
						user := s.User()
						if user == "" {
							user = "guest"
						}
						if !defaultTTL {
							w.Header().Set("Cache-Control", "max-age=30")
						}
						w.Header().Set("Content-Type", "text/plain")
						_, _ = io.WriteString(w, "hello "+user)
					}
					h := mountSessionCache(a.Name, m, c, greet)
					send := func(method, path, cookie string, header ...string) *http.Response {
						t.Helper()
						r := httptest.NewRequest(method, path, nil)
						if cookie != "" {
							r.Header.Set("Cookie", cookie)
						}
						for _, l := range header {
							k, v, _ := strings.Cut(l, ":")
							r.Header.Set(k, strings.TrimSpace(v))
						}
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						return w.Result() // the header as sent, not as changed afterwards
					}
					cookies := map[string]string{"": "_ga=GA1.2.3; theme=dark"} // a guest with analytics cookies
					for _, user := range []string{"alice", "bob"} {
						res := send(http.MethodPost, "/login", "", "X-Login: "+user)
						for _, ck := range res.Cookies() {
							if ck.Name == "session" && res.StatusCode == http.StatusNoContent {
								cookies[user] = "_ga=GA1.2.3; session=" + ck.Value
							}
						}
						if cookies[user] == "" {
							t.Fatalf("login %s: %d %v", user, res.StatusCode, res.Header)
						}
					}
					for i, user := range append(order, "") {
						res := send(http.MethodGet, "/greeting", cookies[user])
						body, _ := io.ReadAll(res.Body)
						want := "hello " + user
						if user == "" {
							want = "hello guest"
						}
						st := res.Header.Get("Cache-Status")
						if res.StatusCode != 200 || string(body) != want {
							t.Fatalf("request %d (%s): %d %q (Cache-Status %q), want %q", i, want, res.StatusCode, body, st, want)
						}
						if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Cookie") {
							t.Fatalf("request %d (%s): Vary %q (Cache-Status %q)", i, want, res.Header.Values("Vary"), st)
						}
						if user == "" && i > 0 && slices.Contains(order[:i], "") && !strings.Contains(st, "; hit") {
							t.Fatalf("request %d: a guest did not share the guests' entry: %q", i, st)
						}
					}
					// A guest without any cookie shares the guests' entry too.
					if res := send(http.MethodGet, "/greeting", ""); !strings.Contains(res.Header.Get("Cache-Status"), "; hit") {
						t.Fatalf("a guest without cookies: %q", res.Header.Get("Cache-Status"))
					}
					t.Logf("%d requests ran the handler %d times", len(order)+2, runs.Load())
				})
			}
		}
	}
}
