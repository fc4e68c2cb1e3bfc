package ratelimit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

func newPlanLimiter(t *testing.T, srv *redistest.Server, name string, perMinute int) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(srv.Client(), ratelimit.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 2 * time.Second}, Name: name,
		Limits: []ratelimit.Limit{ratelimit.PerMinute(perMinute)}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Each plan has its own budget, policy header and deny cache; one client
// moving from the free plan to pro (an upgrade mid-minute) gets pro's
// budget at once, never a denial the free plan's cache remembered.
func TestPlans(t *testing.T) {
	srv := redistest.New(t)
	free, pro := newPlanLimiter(t, srv, "free", 2), newPlanLimiter(t, srv, "pro", 5)
	plans, err := ratelimit.NewPlans(ratelimit.PlansOptions{
		Choose:   func(r *http.Request) string { return r.Header.Get("X-Plan") },
		Limiters: map[string]*ratelimit.Limiter{"free": free, "pro": pro},
		Default:  "free",
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	send := func(plan string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "203.0.113.9:1234"
		if plan != "" {
			r.Header.Set("X-Plan", plan)
		}
		w := httptest.NewRecorder()
		plans.ServeHTTP(w, r, ok)
		return w
	}
	for i, want := range []int{200, 200, 429, 429} {
		w := send("") // no plan: the Default, free
		if w.Code != want || w.Header().Get("RateLimit-Policy") != `"free";q=2;w=60` {
			t.Fatalf("free request %d: %d %q", i, w.Code, w.Header().Get("RateLimit-Policy"))
		}
	}
	for i := range 5 {
		w := send("pro")
		if w.Code != 200 || w.Header().Get("RateLimit-Policy") != `"pro";q=5;w=60` ||
			!strings.HasPrefix(w.Header().Get("RateLimit"), `"pro";r=`+string(rune('4'-i))) {
			t.Fatalf("pro request %d: %d %q %q", i, w.Code, w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"))
		}
	}
	if w := send("pro"); w.Code != 429 {
		t.Fatalf("sixth pro request: %d", w.Code)
	}
	if w := send("gold"); w.Code != 429 || w.Header().Get("RateLimit-Policy") != `"free";q=2;w=60` {
		t.Fatalf("unknown plan: %d %q, want the Default's 429", w.Code, w.Header().Get("RateLimit-Policy"))
	}
}

func TestPlansWithoutDefault(t *testing.T) {
	srv := redistest.New(t)
	plans, err := ratelimit.NewPlans(ratelimit.PlansOptions{
		Choose:   func(r *http.Request) string { return r.Header.Get("X-Plan") },
		Limiters: map[string]*ratelimit.Limiter{"pro": newPlanLimiter(t, srv, "pro", 5)},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	plans.ServeHTTP(w, httptest.NewRequest("GET", "/", nil), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Fatal("a request without a plan ran")
	}))
	if w.Code != 500 {
		t.Fatalf("no plan: %d, want 500", w.Code)
	}
}

func TestNewPlansNamesTheField(t *testing.T) {
	srv := redistest.New(t)
	a, b := newPlanLimiter(t, srv, "a", 1), newPlanLimiter(t, srv, "a", 2)
	choose := func(*http.Request) string { return "" }
	for _, tc := range []struct {
		name  string
		opts  ratelimit.PlansOptions
		field string
	}{
		{"choose", ratelimit.PlansOptions{Limiters: map[string]*ratelimit.Limiter{"x": a}}, "Options.Choose is required"},
		{"empty", ratelimit.PlansOptions{Choose: choose}, "Options.Limiters is empty"},
		{"nil", ratelimit.PlansOptions{Choose: choose, Limiters: map[string]*ratelimit.Limiter{"x": nil}}, `Options.Limiters["x"] is nil`},
		{"shared name", ratelimit.PlansOptions{Choose: choose, Limiters: map[string]*ratelimit.Limiter{"x": a, "y": b}}, `Options.Limiters["y"] has the policy name "a" of plan "x"`},
		{"default", ratelimit.PlansOptions{Choose: choose, Limiters: map[string]*ratelimit.Limiter{"x": a}, Default: "z"}, `Options.Default "z" is not a plan`},
	} {
		_, err := ratelimit.NewPlans(tc.opts)
		if err == nil || !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v; want one naming %q", tc.name, err, tc.field)
		}
	}
}
