package contract

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// The policy of GET /limited, as app.NewLimited sets it.
const (
	limitedRate   = 5
	limitedPolicy = `"limited";q=5;w=10`
	limitedWindow = 10 // seconds
)

// rateLimitHeader matches the RateLimit header of the one limit on
// GET /limited and captures r (remaining) and t (seconds to reset).
var rateLimitHeader = regexp.MustCompile(`^"limited";r=(\d+);t=(\d+)$`)

// testLimited drives GET /limited from one address past its limit. The
// subtests run in order and share the budget, so each stops the rest when
// it fails.
func testLimited(t *testing.T, c *client) {
	ok := t.Run("five allowed", func(t *testing.T) {
		for i := 1; i <= limitedRate; i++ {
			resp := c.get(t, "/limited", nil)
			resp.wantJSON(t, http.StatusOK, `{"ok":true}`)
			wantRateLimit(t, resp, limitedRate-i)
			if v := resp.Header.Get("Retry-After"); v != "" {
				t.Errorf("request %d: Retry-After %q on an allowed request", i, v)
			}
		}
	})
	if !ok {
		return
	}
	ok = t.Run("sixth denied", func(t *testing.T) {
		wantDenied(t, c.get(t, "/limited", nil))
	})
	if !ok {
		return
	}
	t.Run("forwarded headers ignored", func(t *testing.T) {
		// No proxy is trusted, so these cannot move the request into
		// another client's budget.
		h := http.Header{}
		h.Set("X-Forwarded-For", "203.0.113.9")
		h.Set("X-Real-IP", "203.0.113.9")
		h.Set("Forwarded", "for=203.0.113.9")
		wantDenied(t, c.get(t, "/limited", h))
	})
	t.Run("healthz while limited", func(t *testing.T) {
		c.get(t, "/healthz", nil).wantJSON(t, http.StatusOK, `{"status":"ok"}`)
	})
}

// wantRateLimit checks the RateLimit-Policy header and that the RateLimit
// header reports remaining units and a reset within the window.
func wantRateLimit(t *testing.T, resp *response, remaining int) {
	t.Helper()
	if got := resp.Header.Get("RateLimit-Policy"); got != limitedPolicy {
		t.Errorf("%s: RateLimit-Policy %q, want %q", resp.req, got, limitedPolicy)
	}
	got := resp.Header.Get("RateLimit")
	m := rateLimitHeader.FindStringSubmatch(got)
	if m == nil {
		t.Errorf("%s: RateLimit %q, want %q", resp.req, got, `"limited";r=`+strconv.Itoa(remaining)+";t=<1..10>")
		return
	}
	if r, _ := strconv.Atoi(m[1]); r != remaining {
		t.Errorf("%s: RateLimit %q: r=%d, want r=%d", resp.req, got, r, remaining)
	}
	if s, _ := strconv.Atoi(m[2]); s < 1 || s > limitedWindow {
		t.Errorf("%s: RateLimit %q: t=%d, want 1 to %d", resp.req, got, s, limitedWindow)
	}
}

// wantDenied checks that resp is the 429 of GET /limited: an RFC 9457
// problem, Retry-After within the window, and the RateLimit headers with
// nothing remaining.
func wantDenied(t *testing.T, resp *response) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429 (body %q)", resp.req, resp.StatusCode, resp.Body)
	}
	if mt := resp.mediaType(); mt != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", resp.req, resp.Header.Get("Content-Type"))
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Errorf("%s: body %q is not the expected problem: %v", resp.req, resp.Body, err)
	}
	if p.Type != "about:blank" || p.Title != "Too Many Requests" || p.Status != http.StatusTooManyRequests || p.Detail == "" {
		t.Errorf("%s: problem %+v, want type about:blank, title Too Many Requests, status 429 and a detail", resp.req, p)
	}
	ra := resp.Header.Get("Retry-After")
	if s, err := strconv.Atoi(ra); err != nil || s < 1 || s > limitedWindow {
		t.Errorf("%s: Retry-After %q, want whole seconds from 1 to %d", resp.req, ra, limitedWindow)
	}
	wantRateLimit(t, resp, 0)
}
