package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/nethttp"
)

func TestCached(t *testing.T) {
	srv := redistest.New(t)
	cached, err := app.NewCache(app.Backend{Client: srv.Client(), Prefix: srv.Prefix, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := nethttp.HTTPCache(cached.Cache)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("q")
		app.SetCachedHeaders(w.Header(), q)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cached.Lookup(q))
	}))
	get := func(target string) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w.Body.String()
	}
	invalidate := func(form string) (int, string) {
		r := httptest.NewRequest(http.MethodPost, "/cached/invalidate", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return cached.Invalidate(r)
	}
	if got := get("/cached?q=a,b"); got != `{"q":"a,b","executions":1}` {
		t.Fatalf("first: %s", got)
	}
	if got := get("/cached?q=a,b"); got != `{"q":"a,b","executions":1}` {
		t.Fatalf("second: %s", got)
	}
	// the q: tag of a q with a comma is one tag
	if status, body := invalidate("tag=q:a%252Cb"); status != 200 || body != `{"invalidated":1}` {
		t.Fatalf("tag: %d %s", status, body)
	}
	if got := get("/cached?q=a,b"); got != `{"q":"a,b","executions":2}` {
		t.Fatalf("after the tag: %s", got)
	}
	for form, want := range map[string]int{"": 400, "url=cached": 400, "url=%2Fcached%3Fq%3Da%2Cb": 200} {
		if status, body := invalidate(form); status != want {
			t.Fatalf("%q: %d %s, want %d", form, status, body, want)
		}
	}
	if got := get("/cached?q=a,b"); got != `{"q":"a,b","executions":3}` || cached.Executions() != 3 {
		t.Fatalf("after the URL: %s", got)
	}
}
