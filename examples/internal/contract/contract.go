// Package contract is the black-box test that every build of the reference
// app (examples/nethttp, examples/gin, examples/echo) must pass, so the
// three cannot drift apart. Each example's main_test.go is one line:
//
//	func TestContract(t *testing.T) { contract.Run(t, newHandler) }
//
// Run talks to the app over real TCP only: it knows the routes and their
// behaviour, never the framework. A capability that adds routes adds a file
// here with its checks, and one line to Run.
package contract

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/examples/internal/app"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// requestTimeout bounds each request the contract makes.
const requestTimeout = 10 * time.Second

// NewHandler builds an app's routes on a Backend (client, key prefix and
// per-call timeout). Each example's newHandler has this type.
type NewHandler func(b app.Backend) (http.Handler, error)

// Run checks, as subtests of t, that the handler newHandler builds serves
// every route of the reference app as specified. It builds the handler on a
// Redis from redistest.New (a miniredis, or the real Redis or Cluster named
// by REDISWARE_REDIS_ADDR or REDISWARE_CLUSTER_ADDRS), with the test's own
// key prefix, and serves it with httptest.NewServer.
func Run(t *testing.T, newHandler NewHandler) {
	t.Helper()
	RunOn(t, newHandler, func(srv *redistest.Server) (redis.UniversalClient, error) { return srv.Client(), nil })
}

// RunOn is Run with the app's client made by newClient from the test's
// server: an AutoPipeliner, say, which every core must serve as it serves
// a plain client.
func RunOn(t *testing.T, newHandler NewHandler, newClient func(*redistest.Server) (redis.UniversalClient, error)) {
	t.Helper()
	srv := redistest.New(t)
	tel, err := app.NewTelemetry()
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := newClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(app.Backend{Client: rdb, Prefix: srv.Prefix, Timeout: 10 * time.Second, Telemetry: tel})
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c := &client{base: ts.URL, http: ts.Client()}
	c.http.Timeout = requestTimeout
	t.Logf("redis topology %s, key prefix %s", srv.Topology, srv.Prefix)

	t.Run("healthz", func(t *testing.T) { testHealthz(t, c) })
	t.Run("unknown route", func(t *testing.T) { testUnknownRoute(t, c) })
	t.Run("unmatched paths share a budget", func(t *testing.T) { testUnmatched(t, c, srv) })
	t.Run("items", func(t *testing.T) { testItems(t, c) })
	t.Run("limited", func(t *testing.T) { testLimited(t, c) })
	t.Run("orders", func(t *testing.T) { testOrders(t, c) })
	t.Run("cached", func(t *testing.T) { testCached(t, c) })
	t.Run("sessions", func(t *testing.T) { testSessions(t, c) })
	t.Run("greeting", func(t *testing.T) { testGreeting(t, c) })
	t.Run("cache keys expire", func(t *testing.T) { testKeysExpire(t, c, srv) })
	t.Run("metrics", func(t *testing.T) { testMetrics(t, c) })
}

func testHealthz(t *testing.T, c *client) {
	resp := c.get(t, "/healthz", nil)
	resp.wantJSON(t, http.StatusOK, `{"status":"ok"}`)
	for _, h := range []string{"RateLimit", "RateLimit-Policy"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("GET /healthz has %s: %q; want none, it is not rate limited", h, v)
		}
	}
}

func testUnknownRoute(t *testing.T, c *client) {
	resp := c.get(t, "/no-such-route", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /no-such-route: status %d, want 404", resp.StatusCode)
	}
}

// client sends requests to the app under test.
type client struct {
	base string
	http *http.Client
}

// response is a received response with its whole body.
type response struct {
	*http.Response
	req  string // "GET /path", for messages
	Body []byte
}

// get sends GET path with the given headers and reads the whole response;
// a transport error fails t at once.
func (c *client) get(t *testing.T, path string, header http.Header) *response {
	t.Helper()
	return c.do(t, http.MethodGet, path, header, "")
}

// do sends a request with the given headers and body and reads the whole
// response; a transport error fails t at once.
func (c *client) do(t *testing.T, method, path string, header http.Header, body string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.base+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, vs := range header {
		if k == "Host" { // a request's host is not a header field to net/http
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return &response{Response: resp, req: method + " " + path, Body: b}
}

// mediaType returns the media type of the Content-Type header, without
// parameters, or the whole header when it does not parse.
func (r *response) mediaType() string {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// wantJSON checks that r has status, Content-Type application/json (a
// charset parameter is allowed, as Gin sends one) and exactly body, up to a
// trailing newline (encoding/json's Encoder ends its output with one).
func (r *response) wantJSON(t *testing.T, status int, body string) {
	t.Helper()
	if r.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %q)", r.req, r.StatusCode, status, r.Body)
	}
	if mt := r.mediaType(); mt != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", r.req, r.Header.Get("Content-Type"))
	}
	if got := strings.TrimSuffix(string(r.Body), "\n"); got != body {
		t.Errorf("%s: body %q, want %q", r.req, got, body)
	}
	if !json.Valid(r.Body) {
		t.Errorf("%s: body %q is not JSON", r.req, r.Body)
	}
}
