package conformance_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/internal/conformance"
	"github.com/redisware/redisware/nethttp"
)

// quiet discards the warnings that tests of Redis failures provoke.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// rlCase is one scenario: a middleware and the requests it must answer.
type rlCase struct {
	name   string
	limits []ratelimit.Limit
	opts   ratelimit.Options
	hung   bool // Redis never answers
	paths  []string
	steps  []rlStep
}

type rlStep struct {
	path    string
	remote  string            // RemoteAddr; default 192.0.2.1:1234
	header  map[string]string // request headers
	status  int
	ran     bool              // whether the handler must have run
	headers map[string]string // response headers that must match exactly ("" = absent)
	problem string            // when set, the body must be problem+json with this detail
	seen    string            // when set, what the handler (or OnReject) read with ResultFromContext
}

// seenHeader carries what the handler or OnReject read with
// ratelimit.ResultFromContext: "allowed=<bool> remaining=<n> limit=<name>",
// or "none".
const seenHeader = "X-Seen-Result"

func seen(r *http.Request) string {
	res, ok := ratelimit.ResultFromContext(r.Context())
	if !ok {
		return "none"
	}
	return "allowed=" + strconv.FormatBool(res.Allowed) + " remaining=" + strconv.Itoa(res.Remaining) + " limit=" + res.Limit.Name
}

func TestRateLimitConformance(t *testing.T) {
	t.Parallel()
	cases := []rlCase{
		{name: "allow then deny", limits: []ratelimit.Limit{ratelimit.PerMinute(2)}, steps: []rlStep{
			{status: 200, ran: true, headers: map[string]string{"RateLimit-Policy": `"api";q=2;w=60`, "RateLimit": `"api";r=1;t=30`, "Retry-After": ""},
				seen: "allowed=true remaining=1 limit=api"},
			{status: 200, ran: true, headers: map[string]string{"RateLimit": `"api";r=0;t=60`}, seen: "allowed=true remaining=0 limit=api"},
			{status: 429, headers: map[string]string{"RateLimit-Policy": `"api";q=2;w=60`, "RateLimit": `"api";r=0;t=60`, "Retry-After": "30", "X-RateLimit-Limit": ""},
				problem: `Rate limit "api" of 2 per 1m0s exceeded; retry in 30 s.`},
		}},
		{name: "several limits", limits: []ratelimit.Limit{ratelimit.PerSecond(1).WithName("second"), ratelimit.PerHour(100).WithName("hour")}, steps: []rlStep{
			{status: 200, ran: true, headers: map[string]string{"RateLimit-Policy": `"second";q=1;w=1, "hour";q=100;w=3600`, "RateLimit": `"second";r=0;t=1, "hour";r=99;t=36`}},
			{status: 429, headers: map[string]string{"RateLimit": `"second";r=0;t=1, "hour";r=99;t=36`, "Retry-After": "1"}},
		}},
		{name: "legacy headers", limits: []ratelimit.Limit{ratelimit.PerMinute(3)}, opts: ratelimit.Options{LegacyHeaders: true}, steps: []rlStep{
			{status: 200, ran: true, headers: map[string]string{"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "20"}},
		}},
		{name: "shadow never denies", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{Shadow: true}, steps: []rlStep{
			{status: 200, ran: true, headers: map[string]string{"RateLimit": `"api";r=0;t=60`}},
			{status: 200, ran: true, headers: map[string]string{"RateLimit": `"api";r=0;t=60`, "Retry-After": ""}, seen: "allowed=false remaining=0 limit=api"},
		}},
		{name: "skip", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{Skip: func(r *http.Request) bool { return r.Header.Get("X-Internal") == "1" }}, steps: []rlStep{
			{status: 200, ran: true},
			{status: 200, ran: true, header: map[string]string{"X-Internal": "1"}, headers: map[string]string{"RateLimit": "", "RateLimit-Policy": ""}, seen: "none"},
			{status: 429},
		}},
		{name: "key from a header", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{Key: ratelimit.KeyByHeader("X-API-Key")}, steps: []rlStep{
			{status: 400, problem: "request has no rate-limit key: no X-Api-Key header"},
			{status: 200, ran: true, header: map[string]string{"X-API-Key": "alpha"}},
			{status: 429, header: map[string]string{"X-API-Key": "alpha"}},
			{status: 200, ran: true, header: map[string]string{"X-API-Key": "beta"}},
		}},
		{name: "client address", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, steps: []rlStep{
			{status: 200, ran: true, remote: "[2001:db8:1:2::10]:999"},
			{status: 429, remote: "[2001:db8:1:2::99]:999"}, // the same /64
			{status: 200, ran: true, remote: "[2001:db8:1:3::10]:999"},
			{status: 200, ran: true, remote: "198.51.100.1:1"},
			{status: 429, remote: "198.51.100.1:2", header: map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Real-IP": "203.0.113.6"}},
		}},
		{name: "trusted proxies", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{Settings: core.Settings{TrustedProxies: []string{"10.0.0.0/8"}}}, steps: []rlStep{
			{status: 200, ran: true, remote: "10.0.0.1:1", header: map[string]string{"X-Forwarded-For": "203.0.113.5, 10.1.1.1"}},
			{status: 429, remote: "10.0.0.2:1", header: map[string]string{"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}},
			{status: 200, ran: true, remote: "10.0.0.2:1", header: map[string]string{"X-Forwarded-For": "203.0.113.5, 198.51.100.7"}},
			{status: 200, ran: true, remote: "10.0.0.3:1"},
		}},
		{name: "per route", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{PerRoute: true}, paths: []string{"/a", "/b"}, steps: []rlStep{
			{path: "/a", status: 200, ran: true},
			{path: "/a", status: 429},
			{path: "/b", status: 200, ran: true},
		}},
		{name: "cost", limits: []ratelimit.Limit{ratelimit.PerMinute(10)}, opts: ratelimit.Options{Cost: func(r *http.Request) int {
			n, _ := strconv.Atoi(r.Header.Get("X-Cost"))
			return n
		}}, steps: []rlStep{
			{status: 200, ran: true, header: map[string]string{"X-Cost": "6"}, headers: map[string]string{"RateLimit": `"api";r=4;t=36`}},
			{status: 429, header: map[string]string{"X-Cost": "5"}, headers: map[string]string{"Retry-After": "6"}},
			{status: 429, header: map[string]string{"X-Cost": "11"}, headers: map[string]string{"Retry-After": ""},
				problem: `Rate limit "api" of 10 per 1m0s exceeded; this request's cost exceeds the limit and can never be admitted.`},
			{status: 500, header: map[string]string{"X-Cost": "0"}, problem: "The rate limiter failed."},
		}},
		{name: "custom rejection", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{Settings: core.Settings{OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set(seenHeader, seen(r))
			w.WriteHeader(rej.Status)
			_, _ = w.Write([]byte("slow down"))
		}}}, steps: []rlStep{
			{status: 200, ran: true},
			{status: 429, headers: map[string]string{"Content-Type": "text/plain", "Retry-After": "60", "RateLimit": `"api";r=0;t=60`},
				seen: "allowed=false remaining=0 limit=api"},
		}},
		{name: "user or address", limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{
			Settings: core.Settings{TrustedProxies: []string{"10.0.0.0/8"}},
			Key: func(r *http.Request) (string, error) {
				if u := r.Header.Get("X-User"); u != "" {
					return "user:" + u, nil
				}
				return "", nil // the client address
			}}, steps: []rlStep{
			{status: 200, ran: true, header: map[string]string{"X-User": "ada"}},
			{status: 429, remote: "198.51.100.1:1", header: map[string]string{"X-User": "ada"}},
			{status: 200, ran: true},
			{status: 429},
			{status: 200, ran: true, remote: "10.0.0.1:1", header: map[string]string{"X-Forwarded-For": "203.0.113.5"}},
			{status: 429, remote: "10.0.0.2:1", header: map[string]string{"X-Forwarded-For": "203.0.113.5"}},
		}},
		{name: "nested limiters", limits: []ratelimit.Limit{ratelimit.PerMinute(5)}, opts: ratelimit.Options{Name: "inner"}, steps: []rlStep{
			{status: 200, ran: true, seen: "allowed=true remaining=4 limit=inner"},
		}},
		{name: "redis hung, fail open", hung: true, limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, steps: []rlStep{
			{status: 200, ran: true, headers: map[string]string{"RateLimit": "", "RateLimit-Policy": ""}, seen: "allowed=true remaining=0 limit=api"},
		}},
		{name: "redis hung, fail closed", hung: true, limits: []ratelimit.Limit{ratelimit.PerMinute(1)}, opts: ratelimit.Options{FailClosed: true}, steps: []rlStep{
			{status: 503, problem: "The rate limiter is unavailable; try again shortly."},
		}},
	}
	for _, a := range conformance.Adapters() {
		for _, c := range cases {
			t.Run(a.Name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				runRateLimitCase(t, a, c)
			})
		}
	}
}

func runRateLimitCase(t *testing.T, a conformance.Adapter, c rlCase) {
	clk := time.Unix(1_800_000_000, 0)
	opts := c.opts
	if opts.Name == "" {
		opts.Name = "api" // every policy needs a name; the headers show it
	}
	opts.Limits = c.limits
	opts.Clock = func() time.Time { return clk }
	opts.Timeout = 2 * time.Second
	opts.Logger = quiet
	if c.hung {
		opts.Timeout = 30 * time.Millisecond
	}
	var client redis.UniversalClient
	if c.hung {
		client = redistest.Hung(t)
	} else {
		srv := redistest.New(t)
		opts.Prefix = srv.Prefix
		client = srv.Client()
	}
	l, err := ratelimit.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	paths := c.paths
	if len(paths) == 0 {
		paths = []string{"/r"}
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		w.Header().Set(seenHeader, seen(r))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
	if c.name == "nested limiters" {
		// an outer limiter of another policy: the handler sees the inner one's Result
		outerOpts := opts
		outerOpts.Name, outerOpts.Limits = "outer", []ratelimit.Limit{ratelimit.PerMinute(100)}
		outer, err := ratelimit.New(client, outerOpts)
		if err != nil {
			t.Fatal(err)
		}
		inner := nethttp.RateLimit(l)(http.HandlerFunc(handler))
		handler = func(w http.ResponseWriter, r *http.Request) {
			if got := seen(r); got != "allowed=true remaining=99 limit=outer" {
				t.Errorf("between the limiters: %s", got)
			}
			inner.ServeHTTP(w, r)
		}
		l = outer
	}
	h := a.RateLimit(l, handler, paths...)
	for i, s := range c.steps {
		path := s.path
		if path == "" {
			path = paths[0]
		}
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(context.Background())
		req.RemoteAddr = "192.0.2.1:1234"
		if s.remote != "" {
			req.RemoteAddr = s.remote
		}
		for k, v := range s.header {
			req.Header.Set(k, v)
		}
		before := ran.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != s.status {
			t.Fatalf("step %d: status %d, want %d; body %s", i, rec.Code, s.status, rec.Body)
		}
		if got := ran.Load() - before; got != map[bool]int64{false: 0, true: 1}[s.ran] {
			t.Fatalf("step %d: handler ran %d times, want ran=%v", i, got, s.ran)
		}
		for k, want := range s.headers {
			if got := rec.Header().Get(k); got != want {
				t.Fatalf("step %d: header %s = %q, want %q", i, k, got, want)
			}
		}
		if s.problem != "" {
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("step %d: Content-Type %q", i, ct)
			}
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("step %d: body %q: %v", i, rec.Body, err)
			}
			if p["type"] != "about:blank" || p["title"] != http.StatusText(s.status) || p["status"] != float64(s.status) || p["detail"] != s.problem {
				t.Fatalf("step %d: problem %v", i, p)
			}
			// byte for byte, in every framework
			detail, _ := json.Marshal(s.problem)
			want := `{"type":"about:blank","title":"` + http.StatusText(s.status) + `","status":` + strconv.Itoa(s.status) + `,"detail":` + string(detail) + `}`
			if rec.Body.String() != want || rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("step %d: body %s (Content-Length %s), want %s", i, rec.Body, rec.Header().Get("Content-Length"), want)
			}
		}
		if s.seen != "" {
			if got := rec.Header().Get(seenHeader); got != s.seen {
				t.Fatalf("step %d: ResultFromContext gave %q, want %q", i, got, s.seen)
			}
		}
		custom := c.opts.OnReject != nil
		if s.status == 429 && !custom && s.problem == "" {
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("step %d: 429 Content-Type %q", i, ct)
			}
		}
		if s.status == 429 && custom && rec.Body.String() != "slow down" {
			t.Fatalf("step %d: custom body %q", i, rec.Body)
		}
	}
}
