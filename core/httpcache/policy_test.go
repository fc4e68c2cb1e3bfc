package httpcache

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

// private and no-store count wherever they appear as a directive name,
// however malformed the field, and whatever number of directives come
// before them: such a response is never stored, even with a DefaultTTL.
func TestMalformedPrivacyNotStored(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{DefaultTTL: time.Minute})
	var junk string
	for i := 0; i < 70; i++ {
		junk += fmt.Sprintf("x-junk-%d=1, ", i)
	}
	for i, cc := range [][]string{
		{"private;"},
		{"max-age=60; private"},
		{"no-store max-age=0"},
		{"max-age=60, PRIVATE;x"},
		{"max-age=60", `no-store"`},
		{junk + "private"},
		{junk + "no-store, max-age=60"},
		{`max-age=60, no-cache="a", private garbage`},
	} {
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header()["Cache-Control"] = cc
			fmt.Fprintf(w, "run %d", n)
		}}
		path := fmt.Sprint("/m/", i)
		get(m, o, path)
		if w := get(m, o, path); strings.Contains(status(w), "hit") || w.Body.String() != "run 2" {
			shown := strings.Join(cc, " | ")
			shown = shown[max(0, len(shown)-40):]
			t.Errorf("Cache-Control ...%q was stored: %q %q", shown, status(w), w.Body)
		}
	}
	// A value that merely reads "private" is no directive name.
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", `max-age=60, x-note=private, x-quoted="no-store"`)
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/values")
	wantHit(t, get(m, o, "/values"))
	if p, ns := privacyNamed([]string{"a=private", `b="private, no-store"`, "c = no-store"}); p || ns {
		t.Fatalf("values read as names: %v %v", p, ns)
	}
}

// must-revalidate and proxy-revalidate (and s-maxage, which implies the
// latter in a shared cache) forbid serving a stale response without
// validation: neither the response's stale-while-revalidate or
// stale-if-error, nor Route.StaleIfError, overrides them.
func TestRevalidateForbidsStale(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{}
	opts := Options{}
	clk.install(&opts)
	m := newMW(t, newCache(t, srv, opts), Route{StaleIfError: time.Hour})
	for _, cc := range []string{
		"max-age=1, must-revalidate, stale-while-revalidate=600, stale-if-error=600",
		"max-age=1, proxy-revalidate, stale-while-revalidate=600, stale-if-error=600",
		"max-age=1, must-revalidate",
		"max-age=1, must-revalidate, stale-if-error=600",
		"max-age=1, proxy-revalidate, stale-if-error=600",
		"s-maxage=1, stale-while-revalidate=600, stale-if-error=600",
	} {
		fail := false
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			if fail {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Cache-Control", cc)
			fmt.Fprintf(w, "run %d", n)
		}}
		path := "/rv/" + strings.NewReplacer(" ", "", ",", "+", "=", "").Replace(cc)
		get(m, o, path)
		wantHit(t, get(m, o, path))
		clk.advance(5 * time.Second)
		w := get(m, o, path)
		if strings.Contains(status(w), "hit") || w.Body.String() != "run 2" {
			t.Errorf("%s: stale served (stale-while-revalidate): %q %q", cc, status(w), w.Body)
		}
		clk.advance(5 * time.Second)
		fail = true
		if w := get(m, o, path); w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: stale served in place of an error (stale-if-error): %d %q %q", cc, w.Code, status(w), w.Body)
		}
	}
	// Without them, the windows apply.
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600")
		fmt.Fprintf(w, "run %d", n)
	}}
	get(m, o, "/swr")
	clk.advance(5 * time.Second)
	if w := get(m, o, "/swr"); w.Body.String() != "run 1" || !strings.Contains(status(w), "stale-while-revalidate") {
		t.Fatalf("plain stale-while-revalidate: %q %q", status(w), w.Body)
	}
}

// Route.DefaultTTL gives a freshness to 200, 203, 204, 300, 301 and 308
// only. An error status (404, 405, 410, 414, 501) is stored only when the
// handler's own fields give it one.
func TestDefaultTTLStatuses(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newMW(t, newCache(t, srv, Options{}), Route{DefaultTTL: time.Minute})
	for _, tc := range []struct {
		status int
		cc     string
		stored bool
	}{
		{200, "", true}, {203, "", true}, {204, "", true}, {300, "", true}, {301, "", true}, {308, "", true},
		{404, "", false}, {405, "", false}, {410, "", false}, {414, "", false}, {501, "", false},
		{404, "max-age=60", true}, {410, "public, s-maxage=60", true}, {501, "max-age=60", true},
		{302, "", false}, {500, "", false},
	} {
		o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
			if tc.cc != "" {
				w.Header().Set("Cache-Control", tc.cc)
			}
			if tc.status == 301 || tc.status == 308 || tc.status == 302 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(tc.status)
			if tc.status != 204 {
				fmt.Fprintf(w, "run %d", n)
			}
		}}
		path := fmt.Sprintf("/s/%d/%s", tc.status, strings.ReplaceAll(tc.cc, " ", ""))
		get(m, o, path)
		w := get(m, o, path)
		if hit := strings.Contains(status(w), "hit"); hit != tc.stored || w.Code != tc.status {
			t.Errorf("%d with Cache-Control %q: second request %d %q, want stored %v", tc.status, tc.cc, w.Code, status(w), tc.stored)
		}
	}
}
