package httpcache

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

// outer is middleware mounted around the cache: it sets fields before the
// cache runs, and adds fields (or replaces the response, as the session
// middleware does when it cannot save) when the response starts, after
// the cache decided.
type outer struct {
	before  func(h http.Header)
	atStart func(h http.Header)
	replace bool // answer 503 in place of the response
}

type outerWriter struct {
	http.ResponseWriter
	o        *outer
	started  bool
	replaced bool
}

func (w *outerWriter) WriteHeader(code int) {
	if w.started {
		return
	}
	w.started = true
	if w.o.replace {
		w.replaced = true
		h := w.Header()
		for k := range h {
			delete(h, k)
		}
		http.Error(w.ResponseWriter, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if w.o.atStart != nil {
		w.o.atStart(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *outerWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// get sends a GET through the outer middleware, then m, to h.
func (o *outer) get(m *Cache, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, l := range header {
		k, v, _ := strings.Cut(l, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	if o.before != nil {
		o.before(w.Header())
	}
	m.ServeHTTP(&outerWriter{ResponseWriter: w, o: o}, r, h)
	return w
}

// Fields that outer middleware sets count, whether set before the cache
// ran or when the response started: an outer Vary selects variants, an
// outer Set-Cookie, private or no-store keeps the response from being
// stored, and a response an outer writer replaced is not stored.
func TestOuterFieldsCount(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{})
	for _, tc := range []struct {
		name   string
		o      *outer
		route  Route
		varies bool // on Accept-Language; else: never stored
	}{
		{"vary before", &outer{before: func(h http.Header) { h.Set("Vary", "Accept-Language") }}, Route{}, true},
		{"vary at start", &outer{atStart: func(h http.Header) { h.Add("Vary", "Accept-Language") }}, Route{}, true},
		{"set-cookie before", &outer{before: func(h http.Header) { h.Add("Set-Cookie", "a=1") }}, Route{}, false},
		{"set-cookie at start", &outer{atStart: func(h http.Header) { h.Add("Set-Cookie", "a=1") }}, Route{}, false},
		{"private before", &outer{before: func(h http.Header) { h.Set("Cache-Control", "private") }}, Route{DefaultTTL: time.Minute}, false},
		{"private at start", &outer{atStart: func(h http.Header) { h.Set("Cache-Control", "private, max-age=60") }}, Route{}, false},
		{"no-store at start", &outer{atStart: func(h http.Header) { h.Add("Cache-Control", "no-store") }}, Route{}, false},
		{"replaced at start", &outer{replace: true}, Route{}, false},
	} {
		m := newMW(t, c, tc.route)
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			if tc.route.DefaultTTL == 0 {
				w.Header().Set("Cache-Control", "max-age=60")
			}
			fmt.Fprintf(w, "%s (run %d)", r.Header.Get("Accept-Language"), n)
		}}
		path := "/o/" + strings.ReplaceAll(tc.name, " ", "-")
		tc.o.get(m, o, path, "Accept-Language: de")
		fr := tc.o.get(m, o, path, "Accept-Language: fr")
		de := tc.o.get(m, o, path, "Accept-Language: de")
		switch {
		case tc.varies && (fr.Body.String() != "fr (run 2)" || de.Body.String() != "de (run 1)"):
			t.Errorf("%s: fr got %q (%s), de got %q (%s)", tc.name, fr.Body, status(fr), de.Body, status(de))
		case !tc.varies && o.runs.Load() != 3:
			t.Errorf("%s: stored: fr got %q (%s), de got %q (%s)", tc.name, fr.Body, status(fr), de.Body, status(de))
		}
	}
}
