package contract

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// cachedAnswer is the body of GET /cached.
type cachedAnswer struct {
	Q          string `json:"q"`
	Executions int64  `json:"executions"`
}

// wantCached checks a 200 answer of GET /cached for q and returns it.
func wantCached(t *testing.T, r *response, q string) cachedAnswer {
	t.Helper()
	if r.StatusCode != http.StatusOK || r.mediaType() != "application/json" {
		t.Fatalf("%s: %d %q %s, want 200 application/json", r.req, r.StatusCode, r.Header.Get("Content-Type"), r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "max-age=30" {
		t.Fatalf("%s: Cache-Control %q, want max-age=30", r.req, cc)
	}
	if r.Header.Get("Surrogate-Key") != "" {
		t.Fatalf("%s: the Surrogate-Key tags reached the client", r.req)
	}
	var a cachedAnswer
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil || a.Q != q || a.Executions < 1 {
		t.Fatalf("%s: body %s (%v), want {\"q\":%q,\"executions\":N}", r.req, r.Body, err, q)
	}
	return a
}

// cacheStatusOf returns the Cache-Status of r, failing t when it has none.
func cacheStatusOf(t *testing.T, r *response) string {
	t.Helper()
	s := r.Header.Get("Cache-Status")
	if s == "" {
		t.Fatalf("%s: no Cache-Status", r.req)
	}
	return s
}

func wantCachedHit(t *testing.T, r *response, first cachedAnswer, q string) {
	t.Helper()
	if a := wantCached(t, r, q); a != first {
		t.Fatalf("%s: %+v, want the stored %+v", r.req, a, first)
	}
	if s := cacheStatusOf(t, r); !strings.Contains(s, "; hit") || r.Header.Get("Age") == "" {
		t.Fatalf("%s: Cache-Status %q, Age %q: want a hit", r.req, s, r.Header.Get("Age"))
	}
}

// testCached drives GET /cached and POST /cached/invalidate: the first
// request for a q runs, the next ones are hits until the URL or a tag is
// invalidated, and the execution count only grows on real runs.
func testCached(t *testing.T, c *client) {
	get := func(q string, header http.Header) *response {
		return c.get(t, "/cached?q="+url.QueryEscape(q), header)
	}
	invalidate := func(form string) *response {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		return c.do(t, http.MethodPost, "/cached/invalidate", h, form)
	}

	alpha := wantCached(t, get("alpha", nil), "alpha")
	wantCachedHit(t, get("alpha", nil), alpha, "alpha")
	// the same URL with the query spelled differently is the same entry
	wantCachedHit(t, c.get(t, "/cached?q=%61lpha", nil), alpha, "alpha")

	beta := wantCached(t, get("beta gamma", nil), "beta gamma")
	if beta.Executions != alpha.Executions+1 {
		t.Fatalf("beta ran as execution %d after alpha's %d", beta.Executions, alpha.Executions)
	}
	head := c.do(t, http.MethodHead, "/cached?q=alpha", nil, "")
	if head.StatusCode != 200 || len(head.Body) != 0 || !strings.Contains(cacheStatusOf(t, head), "; hit") {
		t.Fatalf("HEAD /cached?q=alpha: %d %q %q", head.StatusCode, head.Body, head.Header.Get("Cache-Status"))
	}

	// Invalidation by URL.
	if r := invalidate("url=" + url.QueryEscape("/cached?q=alpha")); r.StatusCode != 200 {
		t.Fatalf("%s url: %d %s", r.req, r.StatusCode, r.Body)
	}
	alpha2 := wantCached(t, get("alpha", nil), "alpha")
	if alpha2.Executions != beta.Executions+1 {
		t.Fatalf("after invalidating its URL alpha is execution %d, want %d", alpha2.Executions, beta.Executions+1)
	}
	wantCachedHit(t, get("beta gamma", nil), beta, "beta gamma")

	// Invalidation by tag: every response of the route.
	r := invalidate("tag=cached")
	if r.StatusCode != 200 || !json.Valid(r.Body) || !strings.Contains(string(r.Body), `"invalidated":2`) {
		t.Fatalf("%s tag: %d %s, want 200 {\"invalidated\":2}", r.req, r.StatusCode, r.Body)
	}
	if a := wantCached(t, get("beta gamma", nil), "beta gamma"); a.Executions != alpha2.Executions+1 {
		t.Fatalf("after the tag invalidation beta is execution %d, want %d", a.Executions, alpha2.Executions+1)
	}
	if r := invalidate(""); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("%s without tag or url: %d, want 400", r.req, r.StatusCode)
	}

	// A request with Authorization is answered but its response not stored.
	auth := http.Header{"Authorization": {"Bearer alice"}}
	a1 := wantCached(t, get("private", auth), "private")
	if a2 := wantCached(t, get("private", auth), "private"); a2.Executions != a1.Executions+1 {
		t.Fatalf("an authorized response was reused: %+v then %+v", a1, a2)
	}

	// Concurrent misses for one URL: one execution, one answer for all.
	before := wantCached(t, get("warm-up", nil), "warm-up").Executions
	const n = 20
	resps := make([]*response, n)
	var wg sync.WaitGroup
	for i := range resps {
		wg.Go(func() { resps[i] = get("crowd", nil) })
	}
	wg.Wait()
	first := wantCached(t, resps[0], "crowd")
	for _, r := range resps[1:] {
		if a := wantCached(t, r, "crowd"); a != first {
			t.Fatalf("concurrent answers differ: %+v and %+v", first, a)
		}
	}
	if after := wantCached(t, get("after-crowd", nil), "after-crowd").Executions; after != before+2 {
		t.Fatalf("20 concurrent requests ran %d times, want 1", after-before-1)
	}
}
