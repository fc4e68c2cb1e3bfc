package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/app"
)

func TestUpstreamFlag(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		args []string
		env  string
		want string
		rest []string
		err  bool
	}{
		{args: []string{"-upstream", "http://a:1", "-addr", ":9"}, want: "http://a:1", rest: []string{"-addr", ":9"}},
		{args: []string{"--upstream=https://b/x"}, want: "https://b/x"},
		{args: []string{"-addr", ":9"}, env: "http://c", want: "http://c", rest: []string{"-addr", ":9"}},
		{args: []string{"-upstream=http://d"}, env: "http://c", want: "http://d"},
		{args: nil},
		{args: []string{"-upstream"}, err: true},
		{args: []string{"-upstream", "ftp://x"}, err: true},
		{args: []string{"-upstream", "/relative"}, err: true},
	} {
		u, rest, err := upstreamFlag(tc.args, env(tc.env))
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		got := ""
		if u != nil {
			got = u.String()
		}
		if err != nil || got != tc.want || !slices.Equal(rest, tc.rest) {
			t.Errorf("%q: %q %q %v; want %q %q", tc.args, got, rest, err, tc.want, tc.rest)
		}
	}
}

// The proxy caches what the upstream's headers allow, and nothing more,
// and passes every method through.
func TestProxy(t *testing.T) {
	var runs atomic.Int64
	var lastXFF atomic.Value
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		lastXFF.Store(r.Header.Get("X-Forwarded-For"))
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/fresh":
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
		case r.URL.Path == "/etag":
			w.Header().Set("Cache-Control", "max-age=0")
			w.Header().Set("ETag", `"e1"`)
			if r.Header.Get("If-None-Match") == `"e1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		fmt.Fprintf(w, "%s %s run %d %s", r.Method, r.URL.Path, n, body)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	srv := redistest.New(t)
	h, cache, err := newProxy(u, app.Backend{Client: srv.Client(), Prefix: srv.Prefix, Timeout: 5 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	proxy := httptest.NewServer(h)
	defer proxy.Close()
	send := func(method, path, body string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(t.Context(), method, proxy.URL+path, strings.NewReader(body))
		resp, err := proxy.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	first, b1 := send("GET", "/fresh", "")
	again, b2 := send("GET", "/fresh", "")
	if b1 != b2 || b1 != "GET /fresh run 1 " || !strings.Contains(again.Header.Get("Cache-Status"), "redisware-proxy; hit") || len(again.Header.Values("X-Multi")) != 2 {
		t.Fatalf("GET twice: %q %q %v", b1, b2, again.Header)
	}
	if first.Header.Get("Cache-Status") == "" || lastXFF.Load() != "127.0.0.1" {
		t.Fatalf("first: %v, X-Forwarded-For %v", first.Header, lastXFF.Load())
	}
	// No default freshness: a response without Cache-Control is not reused.
	_, n1 := send("GET", "/plain", "")
	_, n2 := send("GET", "/plain", "")
	if n1 == n2 {
		t.Fatalf("a response without freshness was reused: %q", n2)
	}
	// Every method passes through; POST invalidates its URL.
	if resp, body := send("POST", "/fresh", "x=1"); resp.StatusCode != 201 || !strings.Contains(body, "x=1") {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
	for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS"} {
		if _, body := send(m, "/other", ""); !strings.HasPrefix(body, m+" /other") {
			t.Fatalf("%s: %q", m, body)
		}
	}
	if _, body := send("GET", "/fresh", ""); body == b1 {
		t.Fatal("POST did not invalidate /fresh")
	}
	// A stale response with a validator is revalidated: the upstream
	// answers 304 and the client gets the stored body.
	_, e1 := send("GET", "/etag", "")
	resp, e2 := send("GET", "/etag", "")
	if e1 != e2 || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd-status=304") {
		t.Fatalf("revalidation: %q then %q, %q", e1, e2, resp.Header.Get("Cache-Status"))
	}
}
