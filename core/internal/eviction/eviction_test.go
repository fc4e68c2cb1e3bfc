package eviction_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/internal/eviction"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/internal/redisproc"
)

func TestEvicts(t *testing.T) {
	for policy, want := range map[string]bool{
		"noeviction": false, "allkeys-lru": true, "allkeys-lfu": true, "allkeys-random": true,
		"volatile-lru": true, "volatile-lfu": true, "volatile-random": true, "volatile-ttl": true, "": false,
	} {
		if got := eviction.Evicts(policy); got != want {
			t.Errorf("Evicts(%q) = %v, want %v", policy, got, want)
		}
	}
}

// logs is a slog handler's output, safe for concurrent use.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// logger logs every level, debug included, into l, without times.
func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}

// lines returns the lines of l that contain s.
func (l *logs) lines(s string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// waitFor polls l for up to 10 s until n lines contain s, and returns them.
func (l *logs) waitFor(t *testing.T, s string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := l.lines(s)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s, %d log lines contain %q, want %d; the log:\n%s", len(got), s, n, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A server that does not report its policy (miniredis has no INFO memory)
// is not an error: one debug line, nothing at warn level.
func TestCheckUnreadable(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	if srv.Topology != redistest.Miniredis {
		t.Skip("miniredis only: a real server reports its policy")
	}
	var l logs
	eviction.Check(context.Background(), l.logger(), "session", "sessions", srv.Client())
	want := `level=DEBUG msg="session: the Redis maxmemory-policy could not be read; not checked" error="section (memory) is not supported"` + "\n"
	if got := l.String(); got != want {
		t.Fatalf("log:\n%s\nwant\n%s", got, want)
	}
}

// A server that does not answer is not an error either, and Check gives up
// after Timeout.
func TestCheckUnreachable(t *testing.T) {
	t.Parallel()
	var l logs
	start := time.Now()
	eviction.Check(context.Background(), l.logger(), "lock", "locks", redistest.Hung(t))
	if el := time.Since(start); el < eviction.Timeout-100*time.Millisecond || el > eviction.Timeout+5*time.Second {
		t.Fatalf("Check took %v on a hung server, want about %v", el, eviction.Timeout)
	}
	if got := l.lines("level=DEBUG"); len(got) != 1 || !strings.Contains(got[0], "could not be read") || strings.Contains(l.String(), "WARN") {
		t.Fatalf("log:\n%s", l.String())
	}
}

// core is one way of building a core that keeps state, with the warning it
// must log.
type coreCase struct {
	name string
	// build makes the core on rdb, logging to logger.
	build func(rdb redis.UniversalClient, logger *slog.Logger) error
	// line is the start of its message, after "<policy>: ".
	component, what string
}

var cores = []coreCase{
	{"session.New", func(rdb redis.UniversalClient, l *slog.Logger) error {
		_, err := session.New(rdb, session.Options{Settings: core.Settings{Logger: l}})
		return err
	}, "session", "sessions (users are logged out)"},
	{"session.NewDenyList", func(rdb redis.UniversalClient, l *slog.Logger) error {
		_, err := session.NewDenyList(rdb, session.DenyListOptions{Settings: core.Settings{Logger: l}})
		return err
	}, "session: deny list", "token revocations (a revoked token is accepted again)"},
	{"idempotency.New", func(rdb redis.UniversalClient, l *slog.Logger) error {
		_, err := idempotency.New(rdb, idempotency.Options{Settings: core.Settings{Logger: l}})
		return err
	}, "idempotency", "idempotency records (a retried request may run twice)"},
	{"ratelimit.New", func(rdb redis.UniversalClient, l *slog.Logger) error {
		_, err := ratelimit.New(rdb, ratelimit.Options{Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(10)}, Settings: core.Settings{Logger: l}})
		return err
	}, "ratelimit", "rate-limit counters (clients get fresh budgets)"},
	{"lock.New", func(rdb redis.UniversalClient, l *slog.Logger) error {
		_, err := lock.New(rdb, lock.Options{Settings: core.Settings{Logger: l}})
		return err
	}, "lock", "locks (two owners may hold one lock)"},
	{"lock.NewRedlock", func(rdb redis.UniversalClient, l *slog.Logger) error {
		_, err := lock.NewRedlock([]redis.UniversalClient{rdb}, lock.Options{Settings: core.Settings{Logger: l}})
		return err
	}, "lock", "locks (two owners may hold one lock)"},
}

// want is the warning of c on policy.
func (c coreCase) want(policy string) string {
	return fmt.Sprintf(`level=WARN msg="%s: Redis maxmemory-policy is %s: under memory pressure Redis may evict %s; use noeviction for this data, or a separate Redis for the cache" policy=%s`,
		c.component, policy, c.what, policy)
}

// checkCores builds every core on rdb, each with a logger of its own, and
// checks that each logs exactly the warning for policy (none when policy
// is noeviction, once its check has logged that at debug level), and that
// a cache on the same server logs nothing at all.
func checkCores(t *testing.T, rdb redis.UniversalClient, policy string) {
	t.Helper()
	var cacheLogs logs
	if _, err := httpcache.New(rdb, httpcache.Options{Settings: core.Settings{Logger: cacheLogs.logger()}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cores {
		var l logs
		if err := c.build(rdb, l.logger()); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !eviction.Evicts(policy) {
			l.waitFor(t, "maxmemory-policy is "+policy+": nothing is evicted", 1)
			if got := l.lines("WARN"); len(got) != 0 {
				t.Errorf("%s on %s warned: %v", c.name, policy, got)
			}
			continue
		}
		got := l.waitFor(t, "level=WARN", 1)
		if len(got) != 1 || got[0] != c.want(policy) {
			t.Errorf("%s on %s logged\n%s\nwant\n%s", c.name, policy, strings.Join(got, "\n"), c.want(policy))
		}
	}
	if got := cacheLogs.String(); got != "" {
		t.Errorf("the cache logged on %s: %s", policy, got)
	}
}

// Each core that keeps state warns once when the server's policy may evict
// its keys, and stays silent on noeviction; the cache never warns.
func TestWarnsOnEvictingPolicy(t *testing.T) {
	redisproc.Gate(t)
	for _, policy := range []string{"allkeys-lru", "volatile-ttl", "noeviction"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			s := redisproc.Start(t, "--maxmemory", "64mb", "--maxmemory-policy", policy)
			checkCores(t, s.Client(), policy)
		})
	}
}

// On a Cluster every master is asked: one evicting master is enough for a
// warning.
func TestWarnsOnClusterMaster(t *testing.T) {
	redisproc.Gate(t)
	t.Parallel()
	c := redisproc.StartCluster(t, redisproc.ClusterOptions{})
	ctx := context.Background()
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rdb := c.Client(nil)
	checkCores(t, rdb, "noeviction")
	if err := c.Server(masters[len(masters)-1].Addr).Client().ConfigSet(ctx, "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	checkCores(t, rdb, "allkeys-lfu")
}

// A Sentinel failover client is checked on the master Sentinel names.
func TestWarnsThroughSentinel(t *testing.T) {
	redisproc.Gate(t)
	t.Parallel()
	st := redisproc.StartSentinel(t, redisproc.SentinelOptions{Args: []string{"--maxmemory-policy", "volatile-lru"}})
	checkCores(t, st.Client(nil), "volatile-lru")
}
