package httpcache

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// echoQuery answers with what the handler reads from the query, as
// handlers do: Query().Get for each name, fresh for a minute.
func echoQuery(names ...string) *origin {
	return &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		q := r.URL.Query()
		parts := make([]string, len(names))
		for i, name := range names {
			parts[i] = name + "=" + q.Get(name)
		}
		fmt.Fprintf(w, "%s (run %d)", strings.Join(parts, " "), n)
	}}
}

// Repeated parameters keep their order in the key: Query().Get reads the
// first, so ?q=a&q=b and ?q=b&q=a are different pages; other names may
// come in any order.
func TestKeyRepeatedParameters(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	o := echoQuery("q", "p")
	if w := get(m, o, "/search?q=a&q=b"); w.Body.String() != "q=a p= (run 1)" {
		t.Fatalf("first: %q", w.Body)
	}
	w := get(m, o, "/search?q=b&q=a")
	if w.Body.String() != "q=b p= (run 2)" {
		t.Fatalf("?q=b&q=a got %q (%s): the handler reads q=b", w.Body, status(w))
	}
	wantMiss(t, get(m, o, "/search?q=a&p=1&q=b"))
	wantHit(t, get(m, o, "/search?p=1&q=a&q=b"))
	wantHit(t, get(m, o, "/search?q=a&q=b&p=1"))
	wantRuns(t, o, 3)
}

// A raw ";" is data that url.ParseQuery drops: ?a=1;b=2 reads as no
// parameter at all, ?a=1%3Bb%3D2 as a = "1;b=2". They never share an
// entry, in either order.
func TestKeySemicolon(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{})
	o := echoQuery("a", "b")
	if w := get(m, o, "/p?a=1;b=2"); w.Body.String() != "a= b= (run 1)" {
		t.Fatalf("raw semicolon: %q", w.Body)
	}
	if w := get(m, o, "/p?a=1%3Bb%3D2"); w.Body.String() != "a=1;b=2 b= (run 2)" {
		t.Fatalf("encoded semicolon got %q (%s): the entry of ?a=1;b=2 answered it", w.Body, status(w))
	}
	wantHit(t, get(m, o, "/p?a=1;b=2"))
	if w := get(m, o, "/p?a=1%3bb%3d2"); w.Body.String() != "a=1;b=2 b= (run 2)" {
		t.Fatalf("lower-case escapes: %q", w.Body)
	}
	wantRuns(t, o, 2)
}

// requestWith returns a GET of target from remote, over TLS when tlsOn,
// with header lines.
func requestWith(target, remote string, tlsOn bool, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = remote
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	for _, l := range header {
		k, v, _ := strings.Cut(l, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	return r
}

func serve(m *Cache, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r, h)
	return w
}

// The scheme is part of the variant: a cached http -> https redirect is
// never served to an https request (which would redirect to itself). TLS
// says https; so does X-Forwarded-Proto, from a trusted proxy only. One
// invalidation of the URL clears both schemes.
func TestKeyScheme(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{Settings: core.Settings{TrustedProxies: []string{"10.0.0.0/8"}}})
	m := newMW(t, c, Route{})
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=60")
		https := r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" && strings.HasPrefix(r.RemoteAddr, "10.")
		if !https {
			w.Header().Set("Location", "https://example.com"+r.URL.RequestURI())
			w.WriteHeader(http.StatusMovedPermanently)
			fmt.Fprintf(w, "moved (run %d)", n)
			return
		}
		fmt.Fprintf(w, "page (run %d)", n)
	}}
	const client, proxy = "203.0.113.9:5000", "10.1.2.3:5000"
	if w := serve(m, o, requestWith("/s", client, false)); w.Code != 301 {
		t.Fatalf("http: %d", w.Code)
	}
	wantHit(t, serve(m, o, requestWith("/s", client, false)))
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"tls", requestWith("/s", client, true)},
		{"forwarded by a trusted proxy", requestWith("/s", proxy, false, "X-Forwarded-Proto: https")},
		{"last member from a trusted proxy", requestWith("/s", proxy, false, "X-Forwarded-Proto: http, https")},
	} {
		if w := serve(m, o, tc.r); w.Code != 200 || !strings.HasPrefix(w.Body.String(), "page") {
			t.Fatalf("%s: %d %q (%s): the http redirect answered an https request", tc.name, w.Code, w.Body, status(w))
		}
	}
	wantRuns(t, o, 2)
	wantHit(t, serve(m, o, requestWith("/s", client, true)))
	// From an untrusted client the header means nothing: http.
	if w := serve(m, o, requestWith("/s", client, false, "X-Forwarded-Proto: https")); w.Code != 301 {
		t.Fatalf("X-Forwarded-Proto from a client was believed: %d %q", w.Code, w.Body)
	}
	if w := serve(m, o, requestWith("/s", proxy, false, "X-Forwarded-Proto: https, http")); w.Code != 301 {
		t.Fatalf("a trusted proxy's last member is http: %d", w.Code)
	}
	// Every kind of invalidation reaches both schemes.
	for i, inv := range []func() error{
		func() error { return c.InvalidateURL(t.Context(), "http://example.com/s") },
		func() error { _, err := c.InvalidatePrefix(t.Context(), "/s"); return err },
		func() error {
			r := requestWith("/s", client, true)
			r.Method = http.MethodPost
			serve(m, o, r)
			return nil
		},
	} {
		serve(m, o, requestWith("/s", client, false))
		serve(m, o, requestWith("/s", client, true))
		wantHit(t, serve(m, o, requestWith("/s", client, false)))
		wantHit(t, serve(m, o, requestWith("/s", client, true)))
		if err := inv(); err != nil {
			t.Fatal(err)
		}
		wantMiss(t, serve(m, o, requestWith("/s", client, false)))
		if w := serve(m, o, requestWith("/s", client, true)); strings.Contains(status(w), "hit") {
			t.Fatalf("invalidation %d left the https variant: %s", i, status(w))
		}
	}
}
