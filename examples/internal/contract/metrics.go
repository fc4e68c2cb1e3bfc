package contract

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// metric returns the value of the series whose line starts with prefix
// (name and labels, as Prometheus prints them), or -1.
func metric(text, prefix string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(prefix):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// testMetrics runs after the other route tests and checks what /metrics
// reports of them, exactly where the count is known, and that /dashboard is
// served.
func testMetrics(t *testing.T, c *client) {
	r := c.get(t, "/metrics", nil)
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.mediaType(), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	text := string(r.Body)
	exact := map[string]float64{
		// testLimited: 5 allowed, then 2 denied (the sixth, the spoofed one)
		`redisware_ratelimit_decisions_total{redisware_component="ratelimit",redisware_outcome="allowed",redisware_policy="limited"}`: 5,
		`redisware_ratelimit_decisions_total{redisware_component="ratelimit",redisware_outcome="denied",redisware_policy="limited"}`:  2,
		// testOrders: 0001, 0002, 0003, 0004 and 0005 ran once each
		`redisware_idempotency_requests_total{redisware_component="idempotency",redisware_outcome="claimed",redisware_policy="orders"}`: 5,
		// testOrders: one 422
		`redisware_idempotency_requests_total{redisware_component="idempotency",redisware_outcome="mismatch",redisware_policy="orders"}`: 1,
		// testSessions: log out everywhere ended alice's 3 sessions
		`redisware_session_operations_total{redisware_component="session",redisware_outcome="revoked"}`: 3,
	}
	for series, want := range exact {
		if got := metric(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if !regexp.MustCompile(`(?m)^redisware_cache_requests_total\{redisware_component="httpcache",redisware_outcome="hit",redisware_policy="cached"\} [1-9]`).MatchString(text) {
		t.Error("no cache hits counted for GET /cached")
	}
	if !regexp.MustCompile(`(?m)^redisware_redis_duration_seconds_count\{redisware_component="session",redisware_operation="load",redisware_outcome="ok"\} [1-9]`).MatchString(text) {
		t.Error("no Redis latency measured for session loads")
	}
	for _, secret := range []string{"order-aaaa", "alice", "mallory", "127.0.0.1"} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics shows %q: client input must never become a label", secret)
		}
	}
	d := c.get(t, "/dashboard", nil)
	if d.StatusCode != http.StatusOK || d.mediaType() != "text/html" || !strings.Contains(string(d.Body), "<canvas") {
		t.Fatalf("GET /dashboard: %d %q", d.StatusCode, d.Header.Get("Content-Type"))
	}
}

// idemSeries is the series of the orders guard's requests with outcome.
func idemSeries(outcome string) string {
	return `redisware_idempotency_requests_total{redisware_component="idempotency",redisware_outcome="` + outcome + `",redisware_policy="orders"}`
}

// redisSeries is the series that counts the Redis calls of a component's
// operation with outcome ("ok" or "error").
func redisSeries(component, operation, outcome string) string {
	return `redisware_redis_duration_seconds_count{redisware_component="` + component + `",redisware_operation="` + operation + `",redisware_outcome="` + outcome + `"}`
}

// scraped is the text of one GET /metrics.
type scraped string

// scrape returns c's /metrics.
func scrape(t *testing.T, c *client) scraped {
	t.Helper()
	r := c.get(t, "/metrics", nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", r.StatusCode)
	}
	return scraped(r.Body)
}

// value returns the value of series, 0 when it has none yet.
func (s scraped) value(series string) float64 {
	return max(metric(string(s), series), 0)
}

// wantGrown checks that each series of want grew by exactly its value
// between the scrapes before and after of the instance named name.
func wantGrown(t *testing.T, name string, before, after scraped, want map[string]float64) {
	t.Helper()
	for series, d := range want {
		if got := after.value(series) - before.value(series); got != d {
			t.Errorf("%s on %s grew by %v; want %v", series, name, got, d)
		}
	}
}
