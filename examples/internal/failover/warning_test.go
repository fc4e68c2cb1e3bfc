package failover_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/internal/redisproc"
)

// evictable is, by component, what the cores of the reference app that keep
// state say they would lose, and how many of them each build makes: each
// logs one start-up line. The cache never warns.
var evictable = map[string]struct {
	what     string
	perBuild int
}{
	"session":     {"sessions (users are logged out)", 1},
	"idempotency": {"idempotency records (a retried request may run twice)", 1},
	"ratelimit":   {"rate-limit counters (clients get fresh budgets)", 3},
}

// Each build of the reference app warns at start-up, through slog, once per
// core that keeps state, when the server may evict that state
// (allkeys-lru), and says nothing at warn level on noeviction.
func TestStartupWarning(t *testing.T) {
	redisproc.Gate(t)
	for _, policy := range []string{"noeviction", "allkeys-lru"} {
		s := redisproc.Start(t, "--maxmemory", "64mb", "--maxmemory-policy", policy)
		takePolicyLines()
		startApps(t, "warn", func() redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = c.Close() })
			return c
		})
		// Each check ends with one line: the warning, or a debug line when
		// nothing is evicted.
		want := map[string]string{}
		for component, e := range evictable {
			if policy == "noeviction" {
				want[component] = "DEBUG " + component + ": Redis maxmemory-policy is noeviction: nothing is evicted"
			} else {
				want[component] = fmt.Sprintf("WARN %s: Redis maxmemory-policy is %s: under memory pressure Redis may evict %s; use noeviction for this data, or a separate Redis for the cache",
					component, policy, e.what)
			}
		}
		var lines []string
		count := func() map[string]int {
			n := map[string]int{}
			for _, l := range lines {
				for component, w := range want {
					if l == w {
						n[component]++
					}
				}
			}
			return n
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			lines = append(lines, takePolicyLines()...)
			done := true
			for component := range want {
				done = done && count()[component] >= evictable[component].perBuild*len(builds)
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("on %s, after 10s: %v lines by component of %q from %d builds; all lines: %q", policy, count(), want, len(builds), lines)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for component, n := range count() {
			if w := evictable[component].perBuild * len(builds); n != w {
				t.Errorf("on %s, %s logged %d times from %d builds, want %d", policy, component, n, len(builds), w)
			}
		}
		for _, l := range lines {
			if (policy == "noeviction" && strings.HasPrefix(l, "WARN")) || strings.Contains(l, "httpcache") {
				t.Errorf("on %s: %s", policy, l)
			}
		}
	}
}
