package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

func TestHitMiss(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=60")
		h.Set("Content-Type", "application/json")
		h.Add("X-Multi", "one")
		h.Add("X-Multi", "two")
		h.Add("Link", "</a>; rel=preload")
		h.Add("Link", "</b>; rel=preload")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `{"run":%d}`, n)
	}}
	first := get(m, o, "/items?id=1")
	wantMiss(t, first)
	if s := status(first); s != "redisware; fwd=uri-miss; fwd-status=200; stored; ttl=60" {
		t.Fatalf("miss Cache-Status %q", s)
	}
	for i := 0; i < 3; i++ {
		hit := get(m, o, "/items?id=1")
		wantHit(t, hit)
		if hit.Code != 200 || hit.Body.String() != `{"run":1}` {
			t.Fatalf("hit %d: %d %q", i, hit.Code, hit.Body)
		}
		for _, k := range []string{"X-Multi", "Link", "Content-Type", "Cache-Control"} {
			if !reflect.DeepEqual(hit.Header().Values(k), first.Header().Values(k)) {
				t.Fatalf("hit %s = %q, want %q", k, hit.Header().Values(k), first.Header().Values(k))
			}
		}
		if hit.Header().Get("Age") == "" || hit.Header().Get("Content-Length") != "9" {
			t.Fatalf("hit Age %q Content-Length %q", hit.Header().Get("Age"), hit.Header().Get("Content-Length"))
		}
		if s := status(hit); !strings.HasPrefix(s, "redisware; hit; ttl=") || strings.Contains(s, "key=") {
			t.Fatalf("hit Cache-Status %q", s)
		}
	}
	wantRuns(t, o, 1)
	// Query order and encoding do not matter; other values do.
	wantHit(t, get(m, o, "/items?id=%31"))
	wantMiss(t, get(m, o, "/items?id=2"))
	wantRuns(t, o, 2)
	// HEAD is answered from the stored GET, without a body.
	head := do(m, o, http.MethodHead, "/items?id=1")
	wantHit(t, head)
	if head.Body.Len() != 0 || head.Header().Get("Content-Length") != "9" || head.Header().Values("X-Multi")[1] != "two" {
		t.Fatalf("HEAD: %q %v", head.Body, head.Header())
	}
	wantRuns(t, o, 2)
}

func TestQueryCanonical(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{IgnoreParams: []string{"utm_*", "fbclid"}}), Route{})
	o := &origin{}
	wantMiss(t, get(m, o, "/s?b=2&a=1&a=0"))
	wantHit(t, get(m, o, "/s?a=1&b=2&a=0"))
	wantHit(t, get(m, o, "/s?a=1&utm_source=x&b=2&fbclid=y&a=0&utm_medium=z"))
	wantMiss(t, get(m, o, "/s?a=1&b=2"))
	wantMiss(t, get(m, o, "/S?b=2&a=1&a=0"))
	wantHit(t, get(m, o, "/s?b=2&a=1&a=0", "Host: EXAMPLE.com"))
	wantMiss(t, get(m, o, "/s?b=2&a=1&a=0", "Host: other.example"))
	wantRuns(t, o, 4)

	keep := newMW(t, newCache(t, srv, Options{Name: "keep", KeepParams: []string{"page"}}), Route{})
	wantMiss(t, get(keep, o, "/list?page=2&session=abc"))
	wantHit(t, get(keep, o, "/list?session=xyz&page=2"))
	wantMiss(t, get(keep, o, "/list?page=3"))
}

func TestNeverStored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header []string // request
		set    func(h http.Header)
		status int
	}{
		{name: "no-store", set: func(h http.Header) { h.Set("Cache-Control", "no-store, max-age=60") }},
		{name: "private", set: func(h http.Header) { h.Set("Cache-Control", "private, max-age=60") }},
		{name: "set-cookie", set: func(h http.Header) { h.Set("Cache-Control", "max-age=60"); h.Add("Set-Cookie", "sid=alice") }},
		{name: "authorization", header: []string{"Authorization: Bearer alice"}, set: func(h http.Header) { h.Set("Cache-Control", "max-age=60") }},
		{name: "vary star", set: func(h http.Header) { h.Set("Cache-Control", "max-age=60"); h.Set("Vary", "Accept, *") }},
		{name: "request no-store", header: []string{"Cache-Control: no-store"}, set: func(h http.Header) { h.Set("Cache-Control", "max-age=60") }},
		{name: "no freshness", set: func(h http.Header) {}},
		{name: "partial content", set: func(h http.Header) { h.Set("Cache-Control", "max-age=60") }, status: 206},
		{name: "uncacheable status", set: func(h http.Header) {}, status: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			m := newMW(t, newCache(t, srv, Options{}), Route{})
			o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
				tc.set(w.Header())
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				fmt.Fprintf(w, "run %d for %s", n, r.Header.Get("Authorization"))
			}}
			for i := int64(1); i <= 3; i++ {
				w := get(m, o, "/x", tc.header...)
				if strings.Contains(status(w), "stored") || strings.Contains(status(w), "hit") {
					t.Fatalf("request %d: Cache-Status %q", i, status(w))
				}
				if !strings.HasPrefix(w.Body.String(), "run "+strconv.FormatInt(i, 10)) {
					t.Fatalf("request %d got %q", i, w.Body)
				}
			}
			// The next anonymous request is not answered from a stored copy either.
			if w := get(m, o, "/x"); strings.Contains(w.Body.String(), "alice") || strings.Contains(status(w), "hit") {
				t.Fatalf("a later request got %q (%q)", w.Body, status(w))
			}
		})
	}
}

func TestAuthorizationWithPublic(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	for _, cc := range []string{"public, max-age=60", "s-maxage=60", "must-revalidate, max-age=60"} {
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Cache-Control", cc)
			fmt.Fprint(w, "shared")
		}}
		path := "/p/" + strings.ReplaceAll(cc, " ", "")
		wantMiss(t, get(m, o, path, "Authorization: Bearer x"))
		wantHit(t, get(m, o, path, "Authorization: Bearer y"))
		wantRuns(t, o, 1)
	}
}

func TestAllowSetCookie(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{AllowSetCookie: true})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Add("Set-Cookie", "sid=alice")
		fmt.Fprint(w, "page")
	}}
	if w := get(m, o, "/c"); w.Header().Get("Set-Cookie") != "sid=alice" {
		t.Fatalf("the first client lost its cookie: %v", w.Header())
	}
	hit := get(m, o, "/c")
	wantHit(t, hit)
	if len(hit.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("a stored cookie was handed out: %v", hit.Header())
	}
}

func TestDefaultTTLAndHandlerDirectives(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{DefaultTTL: time.Minute})
	for _, tc := range []struct {
		cc     string
		stored bool
	}{
		{"", true}, {"no-store", false}, {"private", false}, {"no-cache", false}, {"max-age=0", false},
	} {
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			if tc.cc != "" {
				w.Header().Set("Cache-Control", tc.cc)
			}
			fmt.Fprint(w, "x")
		}}
		path := "/d/" + strings.ReplaceAll(tc.cc, "=", "")
		get(m, o, path)
		second := get(m, o, path)
		if hit := strings.Contains(status(second), "hit"); hit != tc.stored {
			t.Fatalf("Cache-Control %q: second request %q, want hit %v", tc.cc, status(second), tc.stored)
		}
	}
}

func TestOversizedStreams(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{MaxBodyBytes: 1024}), Route{})
	chunk := strings.Repeat("x", 512)
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		for i := 0; i < 8; i++ {
			fmt.Fprint(w, chunk)
		}
	}}
	for i := 0; i < 2; i++ {
		w := get(m, o, "/big")
		if w.Body.Len() != 4096 || strings.Contains(status(w), "hit") {
			t.Fatalf("request %d: %d bytes, %q", i, w.Body.Len(), status(w))
		}
	}
	wantRuns(t, o, 2)
	// At the limit it is stored.
	fit := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, chunk+chunk)
	}}
	get(m, fit, "/fit")
	if w := get(m, fit, "/fit"); w.Body.Len() != 1024 {
		t.Fatalf("body at the limit: %d bytes", w.Body.Len())
	} else {
		wantHit(t, w)
	}
}

func TestVary(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	m := newMW(t, c, Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language, accept-encoding")
		fmt.Fprintf(w, "%s/%s/%d", r.Header.Get("Accept-Language"), r.Header.Get("Accept-Encoding"), n)
	}}
	wantMiss(t, get(m, o, "/v", "Accept-Language: de", "Accept-Encoding: gzip"))
	if w := get(m, o, "/v", "Accept-Language: fr", "Accept-Encoding: gzip"); !strings.Contains(status(w), "fwd=vary-miss") || w.Body.String() != "fr/gzip/2" {
		t.Fatalf("other language: %q %q", status(w), w.Body)
	}
	for _, hs := range [][]string{
		{"Accept-Language: de", "Accept-Encoding: gzip"},
		{"Accept-Encoding: gzip", "Accept-Language: de"},
	} {
		w := get(m, o, "/v", hs...)
		wantHit(t, w)
		if w.Body.String() != "de/gzip/1" {
			t.Fatalf("variant mixed up: %q", w.Body)
		}
	}
	// Normalised values: whitespace around list members does not matter.
	o2 := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		fmt.Fprintf(w, "%d", n)
	}}
	get(m, o2, "/n", "Accept-Encoding: gzip,br")
	wantHit(t, get(m, o2, "/n", "Accept-Encoding: gzip, br"))
	wantHit(t, get(m, o2, "/n", "Accept-Encoding: gzip", "Accept-Encoding: br"))
	wantMiss(t, get(m, o2, "/n", "Accept-Encoding: br, gzip"))
	wantMiss(t, get(m, o2, "/n"))
	wantHit(t, get(m, o2, "/n"))
	// A fresh instance (no hint) finds the variant in one round trip.
	c2 := newCache(t, srv, Options{})
	rt := redistest.CountRoundTrips(c2.client)
	m2 := newMW(t, c2, Route{})
	if err := c2.client.Ping(t.Context()).Err(); err != nil { // dial outside the count
		t.Fatal(err)
	}
	before := rt.Load()
	w := get(m2, o, "/v", "Accept-Language: fr", "Accept-Encoding: gzip", "X-Other: 1")
	wantHit(t, w)
	if w.Body.String() != "fr/gzip/2" {
		t.Fatalf("fresh instance got %q", w.Body)
	}
	if n := rt.Load() - before; n > 2 { // EVALSHA, and EVAL if the script was not loaded
		t.Fatalf("a hit took %d round trips", n)
	}
	before = rt.Load()
	wantHit(t, get(m2, o, "/v", "Accept-Language: de", "Accept-Encoding: gzip"))
	if n := rt.Load() - before; n != 1 {
		t.Fatalf("a hit took %d round trips, want 1", n)
	}
	// A long selecting value: the variant field is hashed, in Go and in Lua alike.
	o3 := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Cookie")
		fmt.Fprintf(w, "run %d", n)
	}}
	long := "a=" + strings.Repeat("c", 400)
	get(m, o3, "/cv", "Cookie: "+long)
	wantHit(t, get(m2, o3, "/cv", "Cookie: "+long))
	wantMiss(t, get(m2, o3, "/cv", "Cookie: a=b"))
	wantHit(t, get(m, o3, "/cv", "Cookie: "+long))
}

func TestConditional(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	lm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat)
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			t.Errorf("the handler saw the client's conditions: %v", r.Header)
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "body")
	}}
	// A conditional miss: 304 for the client, the whole response stored.
	first := get(m, o, "/c", `If-None-Match: "v1"`)
	if first.Code != 304 || first.Body.Len() != 0 || first.Header().Get("ETag") != `"v1"` || first.Header().Get("Content-Type") != "" {
		t.Fatalf("conditional miss: %d %q %v", first.Code, first.Body, first.Header())
	}
	full := get(m, o, "/c")
	wantHit(t, full)
	if full.Code != 200 || full.Body.String() != "body" {
		t.Fatalf("after a conditional miss: %d %q", full.Code, full.Body)
	}
	for _, hs := range [][]string{
		{`If-None-Match: "v1"`},
		{`If-None-Match: W/"v1"`},
		{`If-None-Match: "x", "v1"`},
		{`If-None-Match: *`},
		{"If-Modified-Since: " + lm},
	} {
		w := get(m, o, "/c", hs...)
		if w.Code != 304 || w.Body.Len() != 0 || w.Header().Get("ETag") != `"v1"` || w.Header().Get("Age") == "" {
			t.Fatalf("%v: %d %q %v", hs, w.Code, w.Body, w.Header())
		}
	}
	for _, hs := range [][]string{
		{`If-None-Match: "v2"`},
		{`If-None-Match: "v2"`, "If-Modified-Since: " + lm}, // If-None-Match wins
		{"If-Modified-Since: " + time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)},
	} {
		if w := get(m, o, "/c", hs...); w.Code != 200 || w.Body.String() != "body" {
			t.Fatalf("%v: %d %q", hs, w.Code, w.Body)
		}
	}
	wantRuns(t, o, 1)
}

func TestStrongETag(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{ETag: true})
	o := &origin{}
	get(m, o, "/e")
	hit := get(m, o, "/e")
	etag := hit.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q", etag)
	}
	if w := get(m, o, "/e", "If-None-Match: "+etag); w.Code != 304 {
		t.Fatalf("revalidation with the generated ETag: %d", w.Code)
	}
}

func TestRequestDirectives(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{KeepStale: time.Minute}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=10")
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/r")
	clk.advance(5 * time.Second)
	wantHit(t, get(m, o, "/r", "Cache-Control: max-age=6"))
	if w := get(m, o, "/r", "Cache-Control: min-fresh=6"); !strings.Contains(status(w), "fwd=request") || w.Body.String() != "run 2" {
		t.Fatalf("min-fresh: %q %q", status(w), w.Body)
	}
	clk.advance(5 * time.Second)
	if w := get(m, o, "/r", "Cache-Control: max-age=1"); !strings.Contains(status(w), "fwd=request") {
		t.Fatalf("max-age: %q", status(w))
	}
	if w := get(m, o, "/r", "Cache-Control: no-cache"); !strings.Contains(status(w), "fwd=request") || w.Body.String() != "run 4" {
		t.Fatalf("no-cache: %q %q", status(w), w.Body)
	}
	if w := get(m, o, "/r", "Pragma: no-cache"); !strings.Contains(status(w), "fwd=request") {
		t.Fatalf("Pragma: %q", status(w))
	}
	wantHit(t, get(m, o, "/r"))
	clk.advance(20 * time.Second)
	// stale now: max-stale accepts it, only-if-cached does not
	if w := get(m, o, "/r", "Cache-Control: max-stale=30"); !strings.Contains(status(w), "hit; ttl=-") {
		t.Fatalf("max-stale: %q", status(w))
	}
	if w := get(m, o, "/r", "Cache-Control: only-if-cached"); w.Code != 504 {
		t.Fatalf("only-if-cached on a stale entry: %d", w.Code)
	}
	if w := get(m, o, "/nothing", "Cache-Control: only-if-cached"); w.Code != 504 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("only-if-cached on nothing: %d %v", w.Code, w.Header())
	}
	runs := o.runs.Load()
	if w := get(m, o, "/r", "Cache-Control: no-store"); w.Body.String() != fmt.Sprintf("run %d", runs+1) {
		t.Fatalf("no-store on a stale entry: %q", w.Body)
	}
	if w := get(m, o, "/r", "Cache-Control: max-stale"); !strings.Contains(status(w), "hit") {
		t.Fatalf("no-store stored something: %q", status(w))
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=30")
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/swr")
	clk.advance(15 * time.Second)
	w := get(m, o, "/swr")
	if w.Body.String() != "run 1" || !strings.Contains(status(w), "stale-while-revalidate") {
		t.Fatalf("stale response: %q %q", w.Body, status(w))
	}
	// Each stale hit may start a refresh once the previous one is done, so
	// while polling more than one can run: what matters is that a fresh
	// response replaced the stale one, made by one refresh at a time.
	var fresh string
	waitFor(t, "the background refresh", func() bool {
		w := get(m, o, "/swr")
		fresh = w.Body.String()
		return fresh != "run 1" && strings.Contains(status(w), "hit; ttl=")
	})
	// A refresh stores its response before it lets go of its flight (and
	// lock); wait for that too, or the next refresh would see it running.
	waitFor(t, "the background refresh to finish", func() bool {
		m.flights.mu.Lock()
		defer m.flights.mu.Unlock()
		return len(m.flights.m) == 0
	})
	// A stale hit that looked up before the first refresh stored may
	// start a second one once the first is over: the last to store wins.
	runs := o.runs.Load()
	w = get(m, o, "/swr")
	wantHit(t, w)
	if fresh = w.Body.String(); fresh != fmt.Sprintf("run %d", runs) {
		t.Fatalf("served %q after %d runs", fresh, runs)
	}
	// Inline refresh (no background handler), as the Gin adapter does.
	clk.advance(15 * time.Second)
	r := newRequest("/swr")
	rec := newRecorder()
	m.ServeWithRefresh(rec, r, o, nil)
	wantRuns(t, o, runs+1)
	if rec.Body.String() != fresh {
		t.Fatalf("inline refresh served %q, want the stale %q", rec.Body, fresh)
	}
	wantHit(t, get(m, o, "/swr"))
	if w := get(m, o, "/swr"); w.Body.String() != fmt.Sprintf("run %d", runs+1) {
		t.Fatalf("after the inline refresh: %q", w.Body)
	}
	// Past the window: forwarded.
	clk.advance(time.Minute)
	if w := get(m, o, "/swr"); w.Body.String() != fmt.Sprintf("run %d", runs+2) || !strings.Contains(status(w), "fwd=uri-miss") {
		t.Fatalf("past the window: %q %q", w.Body, status(w))
	}
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{})
	fail := ""
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		switch fail {
		case "500":
			w.Header().Set("X-Error", "yes")
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case "panic":
			panic("handler failed")
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
		w.Header().Set("X-Good", "yes")
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/sie")
	clk.advance(20 * time.Second)
	fail = "500"
	w := get(m, o, "/sie")
	if w.Code != 200 || w.Body.String() != "run 1" || w.Header().Get("X-Error") != "" || w.Header().Get("X-Good") != "yes" {
		t.Fatalf("5xx with a stale fallback: %d %q %v", w.Code, w.Body, w.Header())
	}
	if s := status(w); !strings.Contains(s, "fwd-status=503") || !strings.Contains(s, "stale-if-error") {
		t.Fatalf("Cache-Status %q", s)
	}
	fail = "panic"
	if w := get(m, o, "/sie"); w.Code != 200 || w.Body.String() != "run 1" {
		t.Fatalf("panic with a stale fallback: %d %q", w.Code, w.Body)
	}
	clk.advance(time.Minute)
	fail = "500"
	if w := get(m, o, "/sie"); w.Code != 503 {
		t.Fatalf("past stale-if-error: %d", w.Code)
	}
	fail = ""
	if w := get(m, o, "/sie"); w.Body.String() != "run 5" {
		t.Fatalf("recovered: %q", w.Body)
	}
}

func TestRevalidation(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{KeepStale: time.Hour}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{})
	var seen []string
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		seen = append(seen, r.Header.Get("If-None-Match"))
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("X-Renewed", strconv.FormatInt(n, 10))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "full body")
	}}
	get(m, o, "/rv")
	clk.advance(30 * time.Second)
	w := get(m, o, "/rv")
	if w.Code != 200 || w.Body.String() != "full body" || w.Header().Get("X-Renewed") != "2" || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("revalidated: %d %q %v", w.Code, w.Body, w.Header())
	}
	if s := status(w); !strings.Contains(s, "fwd=stale; fwd-status=304; stored") {
		t.Fatalf("Cache-Status %q", s)
	}
	hit := get(m, o, "/rv")
	wantHit(t, hit)
	if hit.Header().Get("X-Renewed") != "2" || hit.Body.String() != "full body" {
		t.Fatalf("renewed entry: %v %q", hit.Header(), hit.Body)
	}
	if !reflect.DeepEqual(seen, []string{"", `"v1"`}) {
		t.Fatalf("handler saw If-None-Match %q", seen)
	}
	// A client's own condition on a revalidation: 304 for it.
	clk.advance(30 * time.Second)
	if w := get(m, o, "/rv", `If-None-Match: "v1"`); w.Code != 304 {
		t.Fatalf("conditional revalidation: %d", w.Code)
	}
}

func TestUnsafeInvalidates(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Location", "/items/7")
			w.Header().Set("Content-Location", "http://other.example/items/8")
			w.WriteHeader(http.StatusCreated)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "run %d", n)
		}
	}}
	for _, p := range []string{"/items", "/items/7", "/items/8"} {
		get(m, o, p)
		wantHit(t, get(m, o, p))
	}
	if w := do(m, o, http.MethodDelete, "/items"); w.Code != 404 {
		t.Fatal(w.Code)
	}
	wantHit(t, get(m, o, "/items")) // an error does not invalidate
	if w := do(m, o, http.MethodPost, "/items"); w.Code != 201 || !strings.Contains(status(w), "fwd=method") {
		t.Fatalf("POST: %d %q", w.Code, status(w))
	}
	wantMiss(t, get(m, o, "/items"))
	wantMiss(t, get(m, o, "/items/7"))
	wantHit(t, get(m, o, "/items/8")) // another host's URL is left alone
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	for name, client := range map[string]func(testing.TB) Options{
		"hung":    func(tb testing.TB) Options { return Options{Settings: core.Settings{Timeout: 30 * time.Millisecond}} },
		"refused": func(tb testing.TB) Options { return Options{} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := client(t)
			opts.Logger = quiet
			var errs atomic.Int64
			opts.OnError = func(ctx context.Context, err error) { errs.Add(1) }
			rdb := redistest.Refused(t)
			if name == "hung" {
				rdb = redistest.Hung(t)
			}
			c, err := New(rdb, opts)
			if err != nil {
				t.Fatal(err)
			}
			m := newMW(t, c, Route{})
			o := &origin{}
			for i := int64(1); i <= 2; i++ {
				start := time.Now()
				w := get(m, o, "/down")
				if w.Code != 200 || w.Body.String() != "run "+strconv.FormatInt(i, 10) || !strings.Contains(status(w), "fwd=bypass") {
					t.Fatalf("request %d: %d %q %q", i, w.Code, w.Body, status(w))
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Fatalf("request %d took %v", i, d)
				}
			}
			if errs.Load() == 0 {
				t.Fatal("no error reported")
			}
		})
	}
}

func TestResponseDirectivesEdgeCases(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{StatusName: "edge"})
	m := newMW(t, c, Route{SurrogateControl: true})
	for _, tc := range []struct {
		name   string
		header map[string][]string
		status int
		stored bool
	}{
		{"age ok", map[string][]string{"Cache-Control": {"max-age=3600"}, "Age": {"10"}}, 200, true},
		{"age list, first counts", map[string][]string{"Cache-Control": {"max-age=3600"}, "Age": {"0,7200"}}, 200, true},
		{"age old", map[string][]string{"Cache-Control": {"max-age=3600"}, "Age": {"7200"}}, 200, false},
		{"age nonnumeric", map[string][]string{"Cache-Control": {"max-age=3600"}, "Age": {"abc"}}, 200, false},
		{"age two lines", map[string][]string{"Cache-Control": {"max-age=3600"}, "Age": {"0", "0"}}, 200, false},
		{"age parameter", map[string][]string{"Cache-Control": {"max-age=3600"}, "Age": {"1;a=b"}}, 200, false},
		{"must-understand unknown status", map[string][]string{"Cache-Control": {"max-age=3600, must-understand"}}, 599, false},
		{"must-understand beats no-store", map[string][]string{"Cache-Control": {"max-age=3600, must-understand, no-store"}}, 200, true},
		{"surrogate max-age beats no-store", map[string][]string{"Cache-Control": {"no-store"}, "Surrogate-Control": {"max-age=60;edge"}}, 200, true},
		{"surrogate no-store", map[string][]string{"Cache-Control": {"max-age=60"}, "Surrogate-Control": {"no-store"}}, 200, false},
		{"surrogate for another target", map[string][]string{"Cache-Control": {"no-store"}, "Surrogate-Control": {"max-age=60;other"}}, 200, false},
		{"surrogate max-age=0", map[string][]string{"Cache-Control": {"max-age=60"}, "Surrogate-Control": {"max-age=0"}}, 200, false},
	} {
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			if r.Header.Get("Surrogate-Capability") != `edge="Surrogate/1.0"` {
				t.Errorf("%s: Surrogate-Capability %q", tc.name, r.Header.Get("Surrogate-Capability"))
			}
			for k, v := range tc.header {
				w.Header()[k] = v
			}
			w.WriteHeader(tc.status)
			fmt.Fprint(w, "x")
		}}
		path := "/edge/" + strings.ReplaceAll(tc.name, " ", "-")
		first := get(m, o, path)
		if first.Header().Get("Surrogate-Control") != "" {
			t.Fatalf("%s: Surrogate-Control reached the client", tc.name)
		}
		if hit := strings.Contains(status(get(m, o, path)), "hit"); hit != tc.stored {
			t.Errorf("%s: second request hit=%v, want %v", tc.name, hit, tc.stored)
		}
	}
}

func TestDefaultStaleIfError(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{StaleIfError: time.Minute})
	fail := false
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		if fail {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", r.URL.Query().Get("cc"))
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/d?cc=max-age=1")
	get(m, o, "/d?cc=max-age=1,+must-revalidate")
	clk.advance(10 * time.Second)
	fail = true
	if w := get(m, o, "/d?cc=max-age=1"); w.Code != 200 || w.Body.String() != "run 1" {
		t.Fatalf("default stale-if-error: %d %q", w.Code, w.Body)
	}
	if w := get(m, o, "/d?cc=max-age=1,+must-revalidate"); w.Code != 502 {
		t.Fatalf("must-revalidate with a default stale-if-error: %d %q", w.Code, w.Body)
	}
}

// A 304 renews the stored fields, but not those that describe the stored
// body.
func TestRevalidationUpdatesFields(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{KeepStale: time.Hour}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=1")
		h.Set("X-Version", fmt.Sprint(n))
		h.Set("Content-Type", fmt.Sprint("text/v", n))
		h.Set("Content-Md5", fmt.Sprint("md5-", n))
		if n > 1 {
			h.Set("ETag", `"other"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("ETag", `"v1"`)
		fmt.Fprint(w, "body")
	}}
	get(m, o, "/u")
	clk.advance(5 * time.Second)
	w := get(m, o, "/u")
	h := w.Header()
	if w.Body.String() != "body" || h.Get("X-Version") != "2" || h.Get("Content-Type") != "text/v2" || h.Get("Content-Md5") != "md5-1" || h.Get("ETag") != `"v1"` {
		t.Fatalf("renewed: %q %v", w.Body, h)
	}
}

func TestRangeOnHit(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"r"`)
		fmt.Fprint(w, "0123456789")
	}}
	get(m, o, "/range")
	for _, tc := range []struct {
		header []string
		code   int
		body   string
		cr     string
	}{
		{[]string{"Range: bytes=0-1"}, 206, "01", "bytes 0-1/10"},
		{[]string{"Range: bytes=7-"}, 206, "789", "bytes 7-9/10"},
		{[]string{"Range: bytes=-3"}, 206, "789", "bytes 7-9/10"},
		{[]string{"Range: bytes=5-100"}, 206, "56789", "bytes 5-9/10"},
		{[]string{"Range: bytes=10-"}, 416, "", "bytes */10"},
		{[]string{"Range: bytes=0-1,3-4"}, 200, "0123456789", ""},
		{[]string{"Range: items=0-1"}, 200, "0123456789", ""},
		{[]string{"Range: bytes=0-1", `If-Range: "r"`}, 206, "01", "bytes 0-1/10"},
		{[]string{"Range: bytes=0-1", `If-Range: "old"`}, 200, "0123456789", ""},
	} {
		w := get(m, o, "/range", tc.header...)
		if w.Code != tc.code || w.Body.String() != tc.body || w.Header().Get("Content-Range") != tc.cr {
			t.Errorf("%v: %d %q %q, want %d %q %q", tc.header, w.Code, w.Body, w.Header().Get("Content-Range"), tc.code, tc.body, tc.cr)
		}
	}
	wantRuns(t, o, 1)
}
