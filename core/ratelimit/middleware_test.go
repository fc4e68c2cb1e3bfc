package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

var quiet = slog.New(slog.DiscardHandler)

// newHTTPLimiter returns a limiter of one limit of rate per minute on a
// fresh key space of srv, on a fixed clock.
func newHTTPLimiter(t *testing.T, srv *redistest.Server, rate int, opts ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	if opts.Limits == nil {
		opts.Limits = []ratelimit.Limit{ratelimit.PerMinute(rate)}
	}
	opts.Prefix = srv.Prefix
	opts.Timeout = 2 * time.Second
	opts.Clock = newClock().Now
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := ratelimit.New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// request returns a GET of path from addr, matched to pattern.
func request(path, pattern, addr string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Pattern = pattern
	r.RemoteAddr = addr + ":1234"
	return r
}

// serve runs r through l and reports the status and whether next ran.
func serve(l *ratelimit.Limiter, r *http.Request) (status int, ran bool) {
	w := httptest.NewRecorder()
	l.ServeHTTP(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		w.WriteHeader(http.StatusNoContent)
	}))
	return w.Code, ran
}

// Every option that cannot work fails New with an error that names its
// field and wraps core.ErrConfig (and ErrInvalidLimit for a limit).
func TestNewNamesTheField(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	one := []ratelimit.Limit{ratelimit.PerMinute(10)}
	cases := []struct {
		name   string
		client redis.UniversalClient
		opts   ratelimit.Options
		field  string
		limit  bool // wraps ErrInvalidLimit
	}{
		{"nil client", nil, ratelimit.Options{Limits: one}, "nil Redis client", false},
		{"trusted proxies", srv.Client(), ratelimit.Options{Settings: core.Settings{TrustedProxies: []string{"10.0.0.0/8", "proxy.internal"}}, Limits: one}, "Settings.TrustedProxies", false},
		{"secret", srv.Client(), ratelimit.Options{Settings: core.Settings{Secret: []byte("short")}, Limits: one}, "Settings.Secret", false},
		{"no limits", srv.Client(), ratelimit.Options{}, "Options.Limits is empty", true},
		{"rate", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(0)}}, "Options.Limits[0] (0/1m0s): rate 0", true},
		{"period", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(1), {Rate: 5}}}, "Options.Limits[1] (5/0s): period 0s", true},
		{"burst", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithBurst(-1)}}, "Options.Limits[0]", true},
		{"sub-microsecond period", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{{Rate: 5, Period: 1500 * time.Nanosecond}}}, "Options.Limits[0]", true},
		{"too fast", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(2_000_000)}}, "Options.Limits[0]", true},
		{"limit name", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithName("café")}}, "Options.Limits[0]", true},
		{"duplicate names", srv.Client(), ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerSecond(5), ratelimit.PerMinute(9), ratelimit.PerSecond(5)}}, `Options.Limits[2] is named "5-per-1s" like Limits[0]`, true},
		{"burst of a window", srv.Client(), ratelimit.Options{Name: "api", Algorithm: ratelimit.FixedWindow, Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithBurst(10)}}, "Options.Limits[0] (5/1s burst 10): burst applies to GCRA only", true},
		{"algorithm", srv.Client(), ratelimit.Options{Name: "api", Algorithm: 9, Limits: one}, "Options.Algorithm Algorithm(9) is unknown", false},
		{"negative algorithm", srv.Client(), ratelimit.Options{Name: "api", Algorithm: -1, Limits: one}, "Options.Algorithm", false},
		{"IPv6 prefix below", srv.Client(), ratelimit.Options{Name: "api", IPv6Prefix: -1, Limits: one}, "Options.IPv6Prefix -1 is outside 0..128", false},
		{"IPv6 prefix above", srv.Client(), ratelimit.Options{Name: "api", IPv6Prefix: 129, Limits: one}, "Options.IPv6Prefix 129 is outside 0..128", false},
		{"policy name as a limit name", srv.Client(), ratelimit.Options{Name: "naïve", Limits: one}, `Options.Name "naïve"`, false},
		{"no name", srv.Client(), ratelimit.Options{Limits: one},
			"ratelimit: invalid configuration: Options.Name is required: limiters with the same name, algorithm and limits share their counts, so each policy needs a name of its own", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := ratelimit.New(c.client, c.opts)
			if err == nil {
				t.Fatalf("New accepted the options: %v", l.Limits())
			}
			if !strings.HasPrefix(err.Error(), "ratelimit: ") || !strings.Contains(err.Error(), c.field) {
				t.Errorf("err = %q; want one that starts with ratelimit: and names %q", err, c.field)
			}
			if !errors.Is(err, core.ErrConfig) {
				t.Errorf("err = %v; does not wrap core.ErrConfig", err)
			}
			if got := errors.Is(err, ratelimit.ErrInvalidLimit); got != c.limit {
				t.Errorf("errors.Is(err, ErrInvalidLimit) = %v, want %v (err %v)", got, c.limit, err)
			}
		})
	}
	// The edges of what works.
	for _, o := range []ratelimit.Options{
		{Name: "api", IPv6Prefix: 128, Limits: one},
		{Name: "api", IPv6Prefix: 1, Limits: one},
		{Name: "api", DenyCacheSize: -1, Limits: one},
		{Name: "my api", Limits: []ratelimit.Limit{ratelimit.PerSecond(1), ratelimit.PerHour(100)}}, // the name is never a header's
		{Name: "api", Algorithm: ratelimit.FixedWindow, Limits: []ratelimit.Limit{ratelimit.PerSecond(5).WithBurst(5)}},
		{Name: "api", Settings: core.Settings{TrustedProxies: []string{"10.0.0.1", " 2001:db8::/32 "}}, Limits: one},
	} {
		if _, err := ratelimit.New(srv.Client(), o); err != nil {
			t.Errorf("New(%+v): %v", o, err)
		}
	}
}

// The handler behind a limiter reads the limiter's Result from its
// request's context: allowed, let through in shadow mode, or let through
// by failing open. A skipped request reaches next as it came.
func TestResultFromContext(t *testing.T) {
	t.Parallel()
	if _, ok := ratelimit.ResultFromContext(context.Background()); ok {
		t.Fatal("a Result in a bare context")
	}
	srv := redistest.New(t)
	type seen struct {
		res ratelimit.Result
		ok  bool
		r   *http.Request
	}
	run := func(l *ratelimit.Limiter, r *http.Request) (seen, *core.Rejection) {
		var s seen
		rej := l.Serve(httptest.NewRecorder(), r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.res, s.ok = ratelimit.ResultFromContext(r.Context())
			s.r = r
		}))
		return s, rej
	}

	t.Run("allowed", func(t *testing.T) {
		l := newHTTPLimiter(t, srv, 2, ratelimit.Options{Name: "allowed"})
		s, rej := run(l, request("/", "", "192.0.2.1"))
		if rej != nil || !s.ok || !s.res.Allowed || s.res.Remaining != 1 || s.res.Limit.Name != "allowed" || len(s.res.States) != 1 {
			t.Fatalf("rej %v; Result %+v, %v", rej, s.res, s.ok)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		l := newHTTPLimiter(t, srv, 2, ratelimit.Options{Name: "skipped", Skip: func(*http.Request) bool { return true }})
		r := request("/", "", "192.0.2.1")
		s, rej := run(l, r)
		if rej != nil || s.ok || s.r != r {
			t.Fatalf("rej %v; Result %+v, %v; same request %v", rej, s.res, s.ok, s.r == r)
		}
	})
	t.Run("shadow", func(t *testing.T) {
		l := newHTTPLimiter(t, srv, 1, ratelimit.Options{Name: "shadow", Shadow: true})
		run(l, request("/", "", "192.0.2.1"))
		s, rej := run(l, request("/", "", "192.0.2.1"))
		if rej != nil || !s.ok || s.res.Allowed || s.res.RetryAfter <= 0 {
			t.Fatalf("rej %v; Result %+v, %v", rej, s.res, s.ok)
		}
	})
	t.Run("failed open", func(t *testing.T) {
		l, err := ratelimit.New(redistest.Hung(t), ratelimit.Options{Name: "api", Settings: core.Settings{Timeout: 20 * time.Millisecond, Logger: quiet},
			Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}})
		if err != nil {
			t.Fatal(err)
		}
		s, rej := run(l, request("/", "", "192.0.2.1"))
		if rej != nil || !s.ok || !s.res.Allowed || s.res.States != nil {
			t.Fatalf("rej %v; Result %+v, %v", rej, s.res, s.ok)
		}
	})
}

type ctxKey struct{}

// Nested limiters: the handler sees the innermost Result, and the
// request's own context values survive.
func TestResultFromContextNested(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	outer := newHTTPLimiter(t, srv, 10, ratelimit.Options{Name: "outer"})
	inner := newHTTPLimiter(t, srv, 5, ratelimit.Options{Name: "inner"})
	var got []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := ratelimit.ResultFromContext(r.Context())
		got = append(got, fmt.Sprint(res.Limit.Name, " ", res.Remaining, " ", ok, " ", r.Context().Value(ctxKey{})))
	})
	r := request("/", "", "192.0.2.1")
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "kept"))
	outer.ServeHTTP(httptest.NewRecorder(), r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		inner.ServeHTTP(w, r, h)
	}))
	if want := []string{"outer 9 true kept", "inner 4 true kept"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handlers saw %q, want %q", got, want)
	}
}

// Settings.OnReject writes every rejection, with the rejection's header
// fields already on w and, for a 429 or a 503, the Result in the request's
// context.
func TestOnReject(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	type call struct {
		status  int
		res     ratelimit.Result
		ok      bool
		retry   string
		headers http.Header
	}
	var calls []call
	onReject := func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
		res, ok := ratelimit.ResultFromContext(r.Context())
		calls = append(calls, call{rej.Status, res, ok, w.Header().Get("Retry-After"), w.Header().Clone()})
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(rej.Status)
		_, _ = io.WriteString(w, "custom "+rej.Detail)
	}
	var denials []bool
	l := newHTTPLimiter(t, srv, 1, ratelimit.Options{Settings: core.Settings{OnReject: onReject}, Name: "api", Key: ratelimit.KeyByHeader("X-Key"),
		OnDeny: func(r *http.Request, res ratelimit.Result, shadow bool) { denials = append(denials, shadow) }})

	send := func(key string) *httptest.ResponseRecorder {
		r := request("/", "", "192.0.2.1")
		if key != "" {
			r.Header.Set("X-Key", key)
		}
		w := httptest.NewRecorder()
		l.ServeHTTP(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		return w
	}
	if w := send("k"); w.Code != http.StatusNoContent || len(calls) != 0 {
		t.Fatalf("first request: %d, %d OnReject calls", w.Code, len(calls))
	}
	w := send("k")
	if w.Code != http.StatusTooManyRequests || w.Body.String() != `custom Rate limit "api" of 1 per 1m0s exceeded; retry in 60 s.` || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("429: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if len(calls) != 1 || !calls[0].ok || calls[0].res.Allowed || calls[0].res.Limit.Name != "api" || calls[0].retry != "60" ||
		calls[0].headers.Get("RateLimit") != `"api";r=0;t=60` || calls[0].headers.Get("RateLimit-Policy") != `"api";q=1;w=60` {
		t.Fatalf("OnReject saw %+v", calls)
	}
	if fmt.Sprint(denials) != "[false]" {
		t.Fatalf("OnDeny calls %v", denials)
	}
	w = send("")
	if w.Code != http.StatusBadRequest || len(calls) != 2 || calls[1].ok || w.Body.String() != "custom request has no rate-limit key: no X-Key header" {
		t.Fatalf("400: %d %q; OnReject saw %+v", w.Code, w.Body, calls)
	}

	// Failing closed: a 503 with the Result of the failure.
	closed, err := ratelimit.New(redistest.Hung(t), ratelimit.Options{Name: "api", Settings: core.Settings{OnReject: onReject, Timeout: 20 * time.Millisecond, Logger: quiet},
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, FailClosed: true})
	if err != nil {
		t.Fatal(err)
	}
	w = httptest.NewRecorder()
	closed.ServeHTTP(w, request("/", "", "192.0.2.1"), http.NotFoundHandler())
	if w.Code != http.StatusServiceUnavailable || len(calls) != 3 || !calls[2].ok || calls[2].res.Allowed || w.Body.String() != "custom The rate limiter is unavailable; try again shortly." {
		t.Fatalf("503: %d %q; OnReject saw %+v", w.Code, w.Body, calls)
	}
}

// Serve writes nothing for a denied request: it returns the Rejection,
// whose Header holds the fields today's responses carry, under their
// canonical names, and whose Err says why.
func TestServeReturnsRejection(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	l := newHTTPLimiter(t, srv, 1, ratelimit.Options{Name: "api", LegacyHeaders: true})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	w := httptest.NewRecorder()
	if rej := l.Serve(w, request("/", "", "192.0.2.1"), next); rej != nil || w.Code != http.StatusNoContent {
		t.Fatalf("first: %v %d", rej, w.Code)
	}
	w = httptest.NewRecorder()
	ran := false
	rej := l.Serve(w, request("/", "", "192.0.2.1"), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	if rej == nil || ran || len(w.Header()) != 0 || w.Body.Len() != 0 || w.Flushed {
		t.Fatalf("rej %v, next ran %v, wrote %v %q", rej, ran, w.Header(), w.Body)
	}
	want := http.Header{
		"Ratelimit-Policy":      {`"api";q=1;w=60`},
		"Ratelimit":             {`"api";r=0;t=60`},
		"Retry-After":           {"60"},
		"X-Ratelimit-Limit":     {"1"},
		"X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Reset":     {"60"},
	}
	if rej.Status != http.StatusTooManyRequests || fmt.Sprint(rej.Header) != fmt.Sprint(want) ||
		rej.Detail != `Rate limit "api" of 1 per 1m0s exceeded; retry in 60 s.` || rej.Title != "" || rej.Type != "" {
		t.Fatalf("rejection %+v", rej)
	}
	if rej.Err == nil || !strings.Contains(rej.Error(), `limit "api" exceeded`) {
		t.Fatalf("Err %v", rej.Err)
	}
	// Reject writes it as the problem body, the fields with it.
	w = httptest.NewRecorder()
	l.Reject(w, request("/", "", "192.0.2.1"), rej)
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" || w.Header().Get("X-RateLimit-Limit") != "1" ||
		w.Header().Get("Content-Type") != core.ProblemContentType || !bytes.Equal(w.Body.Bytes(), rej.Problem()) {
		t.Fatalf("Reject wrote %d %v %q", w.Code, w.Header(), w.Body)
	}

	// A Redis failure under FailClosed wraps ErrRedis.
	closed, err := ratelimit.New(redistest.Hung(t), ratelimit.Options{Name: "api", Settings: core.Settings{Timeout: 20 * time.Millisecond, Logger: quiet},
		Limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, FailClosed: true})
	if err != nil {
		t.Fatal(err)
	}
	rej = closed.Serve(httptest.NewRecorder(), request("/", "", "192.0.2.1"), next)
	if rej == nil || rej.Status != http.StatusServiceUnavailable || !errors.Is(rej, ratelimit.ErrRedis) || rej.Header != nil {
		t.Fatalf("fail closed: %+v", rej)
	}
}

// A Key that returns ("", nil) counts the request against its client
// address, found through Settings.TrustedProxies and grouped by
// IPv6Prefix, as a nil Key does.
func TestKeyFallsBackToAddress(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	l := newHTTPLimiter(t, srv, 1, ratelimit.Options{
		Name:       "api",
		Settings:   core.Settings{TrustedProxies: []string{"10.0.0.0/8"}},
		IPv6Prefix: 48,
		Key: func(r *http.Request) (string, error) {
			if u := r.Header.Get("X-User"); u != "" {
				return "user:" + u, nil
			}
			return "", nil
		},
	})
	user := func(r *http.Request, u string) *http.Request { r.Header.Set("X-User", u); return r }
	forwarded := func(r *http.Request, xff string) *http.Request { r.Header.Set("X-Forwarded-For", xff); return r }
	steps := []struct {
		r      *http.Request
		status int
	}{
		{user(request("/", "", "192.0.2.1"), "ada"), 204},
		{user(request("/", "", "192.0.2.2"), "ada"), 429}, // the account, whatever the address
		{request("/", "", "192.0.2.1"), 204},              // anonymous: the address
		{request("/", "", "192.0.2.1"), 429},
		{forwarded(request("/", "", "10.0.0.1"), "198.51.100.7"), 204}, // through a trusted proxy
		{forwarded(request("/", "", "10.0.0.2"), "198.51.100.7"), 429},
		{forwarded(request("/", "", "192.0.2.9"), "198.51.100.7"), 204}, // an untrusted peer is the client
		{request("/", "", "[2001:db8:1:2::1]"), 204},
		{request("/", "", "[2001:db8:1:ffff::1]"), 429}, // the same /48
		{request("/", "", "[2001:db8:2::1]"), 204},
	}
	for i, s := range steps {
		if got, _ := serve(l, s.r); got != s.status {
			t.Fatalf("step %d: %d, want %d", i, got, s.status)
		}
	}
}

// KeyFirst passes over functions that find no key; it answers ("", nil),
// the client address, when one of them asked for it, else the last
// ErrNoKey.
func TestKeyFirst(t *testing.T) {
	t.Parallel()
	noKey := func(r *http.Request) (string, error) { return "", fmt.Errorf("%w: none", ratelimit.ErrNoKey) }
	address := func(r *http.Request) (string, error) { return "", nil }
	fixed := func(k string) ratelimit.KeyFunc { return func(*http.Request) (string, error) { return k, nil } }
	broken := func(r *http.Request) (string, error) { return "", errors.New("store down") }
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	cases := []struct {
		fns  []ratelimit.KeyFunc
		key  string
		want error // nil: none
	}{
		{[]ratelimit.KeyFunc{noKey, fixed("x")}, "b:x", nil},
		{[]ratelimit.KeyFunc{address, fixed("x")}, "b:x", nil},
		{[]ratelimit.KeyFunc{fixed("x"), fixed("y")}, "a:x", nil},
		{[]ratelimit.KeyFunc{noKey, address}, "", nil},
		{[]ratelimit.KeyFunc{address, noKey}, "", nil},
		{[]ratelimit.KeyFunc{noKey, noKey}, "", ratelimit.ErrNoKey},
		{nil, "", ratelimit.ErrNoKey},
	}
	for i, c := range cases {
		key, err := ratelimit.KeyFirst(c.fns...)(r)
		if key != c.key || !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("case %d: %q %v, want %q %v", i, key, err, c.key, c.want)
		}
	}
	// Any other error stops the chain.
	if key, err := ratelimit.KeyFirst(broken, fixed("x"))(r); key != "" || err == nil || errors.Is(err, ratelimit.ErrNoKey) {
		t.Errorf("a failing key function: %q %v", key, err)
	}
}

// PerRoute keys on core.Route: the method and the canonical pattern, or
// core.NoRoute for a request the router did not match, never the URL path.
func TestPerRoute(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	l := newHTTPLimiter(t, srv, 1, ratelimit.Options{Name: "api", PerRoute: true})
	post := func(r *http.Request) *http.Request { r.Method = http.MethodPost; return r }
	steps := []struct {
		r      *http.Request
		status int
	}{
		{request("/items/1", "GET /items/{id}", "192.0.2.1"), 204},
		{request("/items/2", "/items/{item}", "192.0.2.1"), 429}, // the same route, in another spelling
		{post(request("/items/2", "/items/{id}", "192.0.2.1")), 204},
		{request("/other", "GET /other", "192.0.2.1"), 204},
		{request("/a", "", "192.0.2.1"), 204}, // no route: one bucket for every path
		{request("/b", "", "192.0.2.1"), 429},
		{request("/items/1", "GET /items/{id}", "192.0.2.2"), 204}, // another client
	}
	for i, s := range steps {
		if got, _ := serve(l, s.r); got != s.status {
			t.Fatalf("step %d: %d, want %d", i, got, s.status)
		}
	}
}

// A limiter needs a Name: limiters with the same name, algorithm and limits
// share their counts, so two routes limited without one would silently
// share a budget. With names of their own, two routes with identical
// limits keep separate counts for the same client; a limiter of the same
// name on another route (or server) shares its policy's count.
func TestPoliciesNeedNames(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	one := []ratelimit.Limit{ratelimit.PerMinute(1)}
	l, err := ratelimit.New(srv.Client(), ratelimit.Options{Limits: one})
	const want = "ratelimit: invalid configuration: Options.Name is required: limiters with the same name, algorithm and limits share their counts, so each policy needs a name of its own"
	if l != nil || err == nil || err.Error() != want || !errors.Is(err, core.ErrConfig) {
		t.Fatalf("New without a Name: limiter returned %v, err %v; want no limiter and the error %q", l != nil, err, want)
	}
	search := newHTTPLimiter(t, srv, 1, ratelimit.Options{Name: "search"})
	export := newHTTPLimiter(t, srv, 1, ratelimit.Options{Name: "export"})
	searchToo := newHTTPLimiter(t, srv, 1, ratelimit.Options{Name: "search"}) // another route of the search policy
	steps := []struct {
		l      *ratelimit.Limiter
		status int
	}{
		{search, 204}, {search, 429},
		{export, 204}, {export, 429}, // its own count, untouched by search's
		{searchToo, 429}, // search's count
	}
	for i, s := range steps {
		if status, _ := serve(s.l, request("/", "", "192.0.2.1")); status != s.status {
			t.Fatalf("step %d (%s): status %d, want %d", i, s.l.Name(), status, s.status)
		}
	}
}

// A name with quotes, a backslash or spaces is serialised as an RFC 9651
// string, so the RateLimit headers stay well-formed and parse back to the
// name.
func TestNamesAreStructuredStrings(t *testing.T) {
	srv := redistest.New(t)
	name := `say "hi" \ now`
	l, err := ratelimit.New(srv.Client(), ratelimit.Options{Settings: core.Settings{Prefix: srv.Prefix}, Name: name,
		Limits: []ratelimit.Limit{ratelimit.PerMinute(2)}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest("GET", "/", nil), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, field := range []string{"RateLimit-Policy", "RateLimit"} {
		list, err := httpsfv.UnmarshalList(w.Header().Values(field))
		if err != nil || len(list) != 1 {
			t.Fatalf("%s %q does not parse: %v", field, w.Header().Get(field), err)
		}
		if got := list[0].(httpsfv.Item).Value; got != name {
			t.Fatalf("%s names %q; want %q", field, got, name)
		}
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"say \"hi\" \\ now";q=2;w=60` {
		t.Fatalf("RateLimit-Policy %s", got)
	}
}

// Reject writes a 429 from parts made in New, and must write exactly what
// the Rejection's own Write does: the same status, header fields and body,
// for limits whose names JSON escapes, with legacy headers, for a cost that
// can never pass, and for a rejection changed after Serve made it.
func TestRejectWritesWhatRejectionWrites(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for _, tc := range []struct {
		name   string
		opts   ratelimit.Options
		cost   int
		change func(*core.Rejection)
	}{
		{name: "plain", opts: ratelimit.Options{Name: "api"}},
		{name: "escaped names", opts: ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{
			ratelimit.PerMinute(1).WithName(`a<b>&"c\d`), ratelimit.PerHour(5).WithName("<tag>")}}},
		{name: "legacy headers", opts: ratelimit.Options{Name: "api", LegacyHeaders: true}},
		{name: "never", opts: ratelimit.Options{Name: "api"}, cost: 5},
		{name: "changed detail", opts: ratelimit.Options{Name: "api"}, change: func(r *core.Rejection) { r.Detail += " Sorry." }},
		{name: "changed header", opts: ratelimit.Options{Name: "api"}, change: func(r *core.Rejection) { r.Header.Set("X-Extra", "1") }},
		{name: "changed title", opts: ratelimit.Options{Name: "api"}, change: func(r *core.Rejection) { r.Title = "Slow down" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Name += "-" + strings.ReplaceAll(tc.name, " ", "-")
			if tc.cost != 0 {
				tc.opts.Cost = func(*http.Request) int { return tc.cost }
			}
			l := newHTTPLimiter(t, srv, 1, tc.opts)
			var rej *core.Rejection
			for i := 0; i < 3 && rej == nil; i++ {
				rej = l.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), http.NotFoundHandler())
			}
			if rej == nil || rej.Status != http.StatusTooManyRequests {
				t.Fatalf("no 429: %v", rej)
			}
			if tc.change != nil {
				tc.change(rej)
			}
			fast, want := httptest.NewRecorder(), httptest.NewRecorder()
			l.Reject(fast, httptest.NewRequest("GET", "/", nil), rej)
			rej.Write(want)
			if fast.Code != want.Code || fast.Body.String() != want.Body.String() {
				t.Fatalf("Reject wrote %d %q, want %d %q", fast.Code, fast.Body, want.Code, want.Body)
			}
			if fmt.Sprint(fast.Header()) != fmt.Sprint(want.Header()) {
				t.Fatalf("Reject's header\n%v\nwant\n%v", fast.Header(), want.Header())
			}
		})
	}
}
