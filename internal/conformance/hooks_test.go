package conformance

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/ginmw"
)

func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "203.0.113.5:4000"
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newLimiter(t *testing.T, srv *redistest.Server, s core.Settings, name string, perMinute int, key ratelimit.KeyFunc) *ratelimit.Limiter {
	t.Helper()
	s.Prefix = srv.Prefix
	l, err := ratelimit.New(srv.Client(), ratelimit.Options{Settings: s, Name: name, Limits: []ratelimit.Limit{ratelimit.PerMinute(perMinute)}, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// "Limit by the user my auth middleware found" is one line in Gin and in
// Echo, and the rejection can be answered with the framework's own JSON.
func TestNativeKeyAndOnReject(t *testing.T) {
	srv := redistest.New(t)
	gl := newLimiter(t, srv, core.Settings{OnReject: ginmw.OnReject(func(c *gin.Context, rej *core.Rejection) {
		c.JSON(rej.Status, gin.H{"error": rej.TitleOrStatusText(), "user": c.GetString("user")})
	})}, "gin-users", 2, ginmw.Key(func(c *gin.Context) (string, error) { return "user:" + c.GetString("user"), nil }))
	g := newGin()
	g.GET("/x", func(c *gin.Context) { c.Set("user", c.GetHeader("X-User")); c.Next() }, ginmw.RateLimit(gl), func(c *gin.Context) { c.String(200, "ok") })

	el := newLimiter(t, srv, core.Settings{OnReject: echomw.OnReject(func(c echo.Context, rej *core.Rejection) error {
		u, _ := c.Get("user").(string)
		return c.JSON(rej.Status, map[string]string{"error": rej.TitleOrStatusText(), "user": u})
	})}, "echo-users", 2, echomw.Key(func(c echo.Context) (string, error) { u, _ := c.Get("user").(string); return "user:" + u, nil }))
	e := newEcho()
	e.GET("/x", func(c echo.Context) error { return c.String(200, "ok") },
		func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { c.Set("user", c.Request().Header.Get("X-User")); return next(c) }
		}, echomw.RateLimit(el))

	for name, h := range map[string]http.Handler{"gin": g, "echo": e} {
		t.Run(name, func(t *testing.T) {
			for _, user := range []string{"alice", "bob"} { // one address, two budgets
				for i, want := range []int{200, 200, 429} {
					w := serve(t, h, "GET", "/x", http.Header{"X-User": {user}})
					if w.Code != want {
						t.Fatalf("%s request %d: %d %s", user, i, w.Code, w.Body)
					}
					if want == 429 {
						var body map[string]string
						if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["user"] != user || body["error"] != "Too Many Requests" ||
							!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || w.Header().Get("Retry-After") == "" {
							t.Fatalf("%s's 429: %q %v %v", user, w.Body, w.Header(), err)
						}
					}
				}
			}
		})
	}
}

// Plans: one middleware, the limit of the plan the framework's context
// names.
func TestNativePlans(t *testing.T) {
	srv := redistest.New(t)
	plans := func(prefix string, choose func(*http.Request) string) *ratelimit.Plans {
		p, err := ratelimit.NewPlans(ratelimit.PlansOptions{Choose: choose, Default: "free", Limiters: map[string]*ratelimit.Limiter{
			"free": newLimiter(t, srv, core.Settings{}, prefix+"-free", 1, nil),
			"pro":  newLimiter(t, srv, core.Settings{}, prefix+"-pro", 3, nil),
		}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	g := newGin()
	g.GET("/x", func(c *gin.Context) { c.Set("plan", c.GetHeader("X-Plan")); c.Next() },
		ginmw.RateLimitPlans(plans("gin", ginmw.Choose(func(c *gin.Context) string { return c.GetString("plan") }))),
		func(c *gin.Context) { c.String(200, "ok") })
	e := newEcho()
	e.GET("/x", func(c echo.Context) error { return c.String(200, "ok") },
		func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { c.Set("plan", c.Request().Header.Get("X-Plan")); return next(c) }
		}, echomw.RateLimitPlans(plans("echo", echomw.Choose(func(c echo.Context) string { p, _ := c.Get("plan").(string); return p }))))
	for name, h := range map[string]http.Handler{"gin": g, "echo": e} {
		t.Run(name, func(t *testing.T) {
			for i, want := range []int{200, 429} {
				if w := serve(t, h, "GET", "/x", nil); w.Code != want || !strings.HasSuffix(w.Header().Get("RateLimit-Policy"), `-free";q=1;w=60`) {
					t.Fatalf("free %d: %d %q", i, w.Code, w.Header().Get("RateLimit-Policy"))
				}
			}
			for i, want := range []int{200, 200, 200, 429} {
				if w := serve(t, h, "GET", "/x", http.Header{"X-Plan": {"pro"}}); w.Code != want || !strings.HasSuffix(w.Header().Get("RateLimit-Policy"), `-pro";q=3;w=60`) {
					t.Fatalf("pro %d: %d %q", i, w.Code, w.Header().Get("RateLimit-Policy"))
				}
			}
		})
	}
}

// Every middleware honours Gin's Skip and Echo's Skipper: a skipped request
// reaches the handler untouched, where the core would have refused it.
func TestSkipEveryMiddleware(t *testing.T) {
	srv := redistest.New(t)
	s := core.Settings{Prefix: srv.Prefix}
	limiter := newLimiter(t, srv, s, "skip", 1, nil)
	guard, err := idempotency.New(srv.Client(), idempotency.Options{Settings: s, Name: "skip", Required: true})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(srv.Client(), session.Options{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := httpcache.New(srv.Client(), httpcache.Options{Settings: s, Name: "skip", Route: httpcache.Route{DefaultTTL: 60e9}})
	if err != nil {
		t.Fatal(err)
	}
	deny, err := session.NewDenyList(srv.Client(), session.DenyListOptions{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := session.NewTokenGuard(deny, session.TokenGuardOptions{Parse: func(r *http.Request) (string, error) {
		return "", errors.New("no token")
	}})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	type mw struct {
		name  string
		gin   func(ginmw.Option) gin.HandlerFunc
		echo  func(echomw.Option) echo.MiddlewareFunc
		check func(t *testing.T, h http.Handler, skip http.Header)
	}
	twice := func(method string, refused int) func(t *testing.T, h http.Handler, skip http.Header) {
		return func(t *testing.T, h http.Handler, skip http.Header) {
			for i := range 2 {
				if w := serve(t, h, method, "/x", nil); i == 1 && w.Code != refused {
					t.Fatalf("not skipped: %d, want %d", w.Code, refused)
				}
			}
			before := runs.Load()
			for range 3 {
				if w := serve(t, h, method, "/x", skip); w.Code != 200 || w.Header().Get("RateLimit") != "" || w.Header().Get("Cache-Status") != "" {
					t.Fatalf("skipped: %d %v", w.Code, w.Header())
				}
			}
			if runs.Load()-before != 3 {
				t.Fatalf("the handler ran %d times for 3 skipped requests", runs.Load()-before)
			}
		}
	}
	mws := []mw{
		{"ratelimit", func(o ginmw.Option) gin.HandlerFunc { return ginmw.RateLimit(limiter, o) }, func(o echomw.Option) echo.MiddlewareFunc { return echomw.RateLimit(limiter, o) }, twice("GET", 429)},
		{"idempotency", func(o ginmw.Option) gin.HandlerFunc { return ginmw.Idempotency(guard, o) }, func(o echomw.Option) echo.MiddlewareFunc { return echomw.Idempotency(guard, o) }, twice("POST", 400)},
		{"tokenguard", func(o ginmw.Option) gin.HandlerFunc { return ginmw.TokenGuard(tokens, o) }, func(o echomw.Option) echo.MiddlewareFunc { return echomw.TokenGuard(tokens, o) }, twice("GET", 401)},
		{"session", func(o ginmw.Option) gin.HandlerFunc { return ginmw.Session(sessions, o) }, func(o echomw.Option) echo.MiddlewareFunc { return echomw.Session(sessions, o) },
			func(t *testing.T, h http.Handler, skip http.Header) {
				if w := serve(t, h, "GET", "/x", nil); w.Body.String() != "session" {
					t.Fatalf("not skipped: %q", w.Body)
				}
				if w := serve(t, h, "GET", "/x", skip); w.Body.String() != "no session" {
					t.Fatalf("skipped: %q", w.Body)
				}
			}},
		{"httpcache", func(o ginmw.Option) gin.HandlerFunc { return ginmw.HTTPCache(cache, o) }, func(o echomw.Option) echo.MiddlewareFunc { return echomw.HTTPCache(cache, o) },
			func(t *testing.T, h http.Handler, skip http.Header) {
				serve(t, h, "GET", "/x", nil)
				if w := serve(t, h, "GET", "/x", nil); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
					t.Fatalf("not skipped: %q", w.Header().Get("Cache-Status"))
				}
				twice("GET", 200)(t, h, skip)
			}},
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		if session.FromContext(r.Context()) != nil {
			_, _ = w.Write([]byte("session"))
			return
		}
		_, _ = w.Write([]byte("no session"))
	}
	skip := http.Header{"X-Skip": {"1"}}
	for _, m := range mws {
		t.Run(m.name+"/gin", func(t *testing.T) {
			g := newGin()
			g.Handle(http.MethodGet, "/x", m.gin(ginmw.Skip(func(c *gin.Context) bool { return c.GetHeader("X-Skip") == "1" })), ginHandler(handler))
			g.Handle(http.MethodPost, "/x", m.gin(ginmw.Skip(func(c *gin.Context) bool { return c.GetHeader("X-Skip") == "1" })), ginHandler(handler))
			m.check(t, g, skip)
		})
		t.Run(m.name+"/echo", func(t *testing.T) {
			e := newEcho()
			sk := echomw.Skipper(func(c echo.Context) bool { return c.Request().Header.Get("X-Skip") == "1" })
			e.GET("/x", echoHandler(handler), m.echo(sk))
			e.POST("/x", echoHandler(handler), m.echo(sk))
			m.check(t, e, skip)
		})
	}
}

// An Echo handler's error travels back up the chain through every
// redisware middleware to the outer ones (a logger, a reporter), and the
// error response is written once.
func TestEchoErrorsReachOuterMiddleware(t *testing.T) {
	srv := redistest.New(t)
	s := core.Settings{Prefix: srv.Prefix}
	limiter := newLimiter(t, srv, s, "errors", 100, nil)
	guard, err := idempotency.New(srv.Client(), idempotency.Options{Settings: s, Name: "errors"})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(srv.Client(), session.Options{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := httpcache.New(srv.Client(), httpcache.Options{Settings: s, Name: "errors"})
	if err != nil {
		t.Fatal(err)
	}
	stacks := map[string][]echo.MiddlewareFunc{
		"ratelimit":   {echomw.RateLimit(limiter)},
		"session":     {echomw.Session(sessions)},
		"idempotency": {echomw.Idempotency(guard)},
		"httpcache":   {echomw.HTTPCache(cache)},
		"all":         {echomw.RateLimit(limiter), echomw.Session(sessions), echomw.Idempotency(guard), echomw.HTTPCache(cache)},
	}
	for name, stack := range stacks {
		t.Run(name, func(t *testing.T) {
			e := newEcho()
			var seen error
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					seen = next(c)
					return seen
				}
			})
			route := "/teapot-" + name
			e.GET(route, func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") }, stack...)
			e.POST(route, func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") }, stack...)
			for _, method := range []string{"GET", "POST"} {
				seen = nil
				w := serve(t, e, method, route, http.Header{"Idempotency-Key": {"k-" + method}})
				var he *echo.HTTPError
				if !errors.As(seen, &he) || he.Code != http.StatusTeapot {
					t.Fatalf("%s: the outer middleware saw %v; want the handler's 418", method, seen)
				}
				if w.Code != http.StatusTeapot || strings.Count(w.Body.String(), "short and stout") != 1 {
					t.Fatalf("%s: %d %q; want one 418 body", method, w.Code, w.Body)
				}
			}
		})
	}
}

// The framework's client address is an explicit opt-in, and it follows the
// proxies the app told the framework to trust.
func TestFrameworkClientAddress(t *testing.T) {
	srv := redistest.New(t)
	g := newGin()
	if err := g.SetTrustedProxies([]string{"10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	g.GET("/x", ginmw.RateLimit(newLimiter(t, srv, core.Settings{}, "gin-ip", 1, ginmw.KeyByClientIP())), func(c *gin.Context) { c.String(200, "ok") })
	e := newEcho()
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8")
	e.IPExtractor = echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxies))
	e.GET("/x", func(c echo.Context) error { return c.String(200, "ok") }, echomw.RateLimit(newLimiter(t, srv, core.Settings{}, "echo-ip", 1, echomw.KeyByRealIP())))
	for name, h := range map[string]http.Handler{"gin": g, "echo": e} {
		t.Run(name, func(t *testing.T) {
			send := func(client string) int {
				r := httptest.NewRequest("GET", "/x", nil)
				r.RemoteAddr = "10.1.2.3:5000" // the trusted proxy
				r.Header.Set("X-Forwarded-For", client)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Code
			}
			if a, b, c := send("198.51.100.1"), send("198.51.100.2"), send("198.51.100.1"); a != 200 || b != 200 || c != 429 {
				t.Fatalf("per forwarded client: %d %d %d; want 200 200 429", a, b, c)
			}
		})
	}
}
