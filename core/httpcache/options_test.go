package httpcache

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// Every option that cannot work makes New fail, with an error that names
// it and wraps core.ErrConfig.
func TestNewInvalidOptions(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for _, tc := range []struct {
		field string
		opts  Options
	}{
		{"Settings.TrustedProxies", Options{Settings: core.Settings{TrustedProxies: []string{"10.0.0.0/99"}}}},
		{"Settings.Secret", Options{Settings: core.Settings{Secret: []byte("short")}}},
		{"Options.StatusName", Options{StatusName: "my cache"}},
		{"Options.StatusName", Options{StatusName: "1edge"}},
		{"Options.StatusName", Options{StatusName: `say "hi"`}},
		{"Options.StatusName", Options{StatusName: "café"}},
		{"Options.StatusName", Options{StatusName: "edge;hit"}},
		{"Options.MaxBodyBytes", Options{MaxBodyBytes: -1}},
		{"Options.MaxVariants", Options{MaxVariants: -1}},
		{"Options.KeepStale", Options{KeepStale: -time.Second}},
		{"Options.FillTimeout", Options{FillTimeout: -time.Second}},
		{"Options.FillTimeout", Options{FillTimeout: time.Microsecond}},
		{"Options.LocalBytes", Options{LocalBytes: -1}},
		{"Options.LocalMaxAge", Options{LocalMaxAge: -time.Second}},
		{"Options.LocalMaxAge", Options{LocalMaxAge: time.Microsecond}},
		{"Options.MaxTTL", Options{MaxTTL: -time.Hour}},
		{"Options.MaxTTL", Options{MaxTTL: 500 * time.Millisecond}},
		{"Options.IgnoreParams[1]", Options{IgnoreParams: []string{"utm_*", ""}}},
		{"Options.KeepParams[0]", Options{KeepParams: []string{""}}},
		{"Options.Route.DefaultTTL", Options{Route: Route{DefaultTTL: -time.Second}}},
		{"Options.Route.StaleIfError", Options{Route: Route{StaleIfError: -time.Second}}},
		{"Options.Route.TagHeaders[0]", Options{Route: Route{TagHeaders: []string{"Surrogate Key"}}}},
		{"Options.Route.TagHeaders[1]", Options{Route: Route{TagHeaders: []string{"Cache-Tag", ""}}}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			tc.opts.Prefix = srv.Prefix
			c, err := New(srv.Client(), tc.opts)
			if err == nil {
				_ = c.Close()
				t.Fatalf("New accepted an invalid %s", tc.field)
			}
			if !errors.Is(err, core.ErrConfig) || !strings.HasPrefix(err.Error(), "httpcache: ") || !strings.Contains(err.Error(), tc.field+" ") {
				t.Fatalf("error %q does not name %s or wrap core.ErrConfig", err, tc.field)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil || !errors.Is(err, core.ErrConfig) {
		t.Fatalf("New with a nil client: %v", err)
	}
	// The edges of what is valid.
	c, err := New(srv.Client(), Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: -1},
		CompressAbove: -1, WaitTimeout: -1, StatusName: "*edge:a/b", IgnoreParams: []string{"*"},
		Route: Route{TagHeaders: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

// WithRoute checks its Route as New does, naming the field as "Route.X".
func TestWithRouteInvalid(t *testing.T) {
	t.Parallel()
	c := newCache(t, redistest.New(t), Options{})
	for _, tc := range []struct {
		field string
		rt    Route
	}{
		{"Route.DefaultTTL", Route{DefaultTTL: -1}},
		{"Route.StaleIfError", Route{StaleIfError: -1}},
		{"Route.TagHeaders[0]", Route{TagHeaders: []string{"a:b"}}},
	} {
		_, err := c.WithRoute(tc.rt)
		if err == nil || !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), ": "+tc.field+" ") {
			t.Errorf("WithRoute with an invalid %s: %v", tc.field, err)
		}
	}
	var nilCache *Cache
	if _, err := nilCache.WithRoute(Route{}); err == nil {
		t.Error("WithRoute on a nil Cache succeeded")
	}
}

// Caches derived with WithRoute share entries, the in-process tier and
// its subscription, but each serves with its own Route; Close on the
// value New returned closes the tier for all.
func TestWithRouteSharesEngine(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	base := newCache(t, srv, Options{LocalBytes: 1 << 20})
	withTTL := newMW(t, base, Route{DefaultTTL: time.Minute, Tags: func(*http.Request) []string { return []string{"short"} }})
	if base.route.DefaultTTL != 0 || withTTL.route.DefaultTTL != time.Minute {
		t.Fatal("WithRoute changed the Route of the Cache it derives from")
	}
	o := &origin{respond: func(w http.ResponseWriter, r *http.Request, n int64) {
		_, _ = w.Write([]byte("no freshness")) // only DefaultTTL stores it
	}}
	wantMiss(t, get(base, o, "/a"))
	wantMiss(t, get(base, o, "/a"))
	wantRuns(t, o, 2)
	wantMiss(t, get(withTTL, o, "/a"))
	wantHit(t, get(withTTL, o, "/a"))
	wantHit(t, get(base, o, "/a")) // the entry is shared
	wantRuns(t, o, 3)
	if n, err := base.InvalidateTags(t.Context(), "short"); err != nil || n != 1 {
		t.Fatalf("invalidating the derived route's tag through the base: %d %v", n, err)
	}
	wantMiss(t, get(withTTL, o, "/a"))
	waitFor(t, "the shared subscription", withTTL.LocalReady)
	if err := base.Close(); err != nil {
		t.Fatal(err)
	}
	if base.LocalReady() || withTTL.LocalReady() {
		t.Fatal("Close on the value New returned left a derived Cache's local tier serving")
	}
	wantHit(t, get(withTTL, o, "/a")) // still a cache, on Redis alone
}

// The only rejection, the 504 to only-if-cached, is a *core.Rejection with
// its Cache-Status in Header; Reject writes it through Settings.OnReject
// when set, else as a problem body.
func TestOnlyIfCachedRejection(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := newCache(t, srv, Options{StatusName: "edge"})
	o := &origin{}
	r := httptest.NewRequest(http.MethodGet, "/nothing", nil)
	r.Header.Set("Cache-Control", "only-if-cached")
	w := httptest.NewRecorder()
	w.Header().Add("Cache-Status", "outer; hit")
	rej := c.Serve(w, r, o)
	wantRuns(t, o, 0)
	if rej == nil || rej.Status != http.StatusGatewayTimeout || !strings.Contains(rej.Detail, "only-if-cached") {
		t.Fatalf("rejection %+v", rej)
	}
	if got := rej.Header.Values("Cache-Status"); len(got) != 2 || got[0] != "outer; hit" || got[1] != "edge; fwd=miss; detail=only-if-cached" {
		t.Fatalf("rejection Cache-Status %q", got)
	}
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Fatal("Serve wrote something for a rejection")
	}

	// Default: an RFC 9457 problem body, Cache-Status kept.
	w = httptest.NewRecorder()
	c.ServeHTTP(w, r, o)
	if w.Code != http.StatusGatewayTimeout || w.Header().Get("Content-Type") != core.ProblemContentType ||
		!strings.Contains(w.Body.String(), "only-if-cached") || w.Header().Get("Cache-Status") != "edge; fwd=miss; detail=only-if-cached" {
		t.Fatalf("default rejection: %d %v %q", w.Code, w.Header(), w.Body)
	}

	// Settings.OnReject, for this cache and every route derived from it.
	var seen *core.Rejection
	custom := newCache(t, srv, Options{Settings: core.Settings{OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
		seen = rej
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(rej.Status)
		_, _ = w.Write([]byte("not cached"))
	}}})
	for _, m := range []*Cache{custom, newMW(t, custom, Route{DefaultTTL: time.Minute})} {
		seen = nil
		w = httptest.NewRecorder()
		m.ServeHTTP(w, r, o)
		if seen == nil || w.Code != http.StatusGatewayTimeout || w.Body.String() != "not cached" ||
			w.Header().Get("Cache-Status") != "redisware; fwd=miss; detail=only-if-cached" {
			t.Fatalf("OnReject: %d %v %q", w.Code, w.Header(), w.Body)
		}
	}
	wantRuns(t, o, 0)
}
