package app

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// logBuffer collects log output; slog handlers may write from several
// goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSuffix(b.buf.String(), "\n"), "\n")
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConnectEmbedded(t *testing.T) {
	var logs logBuffer
	client, closeAll, err := Connect(Config{Addr: ":0"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer closeAll()
	if got := logs.lines(); len(got) != 1 || !strings.Contains(got[0], "using an embedded miniredis") {
		t.Errorf("log = %q; want exactly one line about the embedded miniredis", got)
	}
	c, ok := client.(*redis.Client)
	if !ok || !c.Options().ContextTimeoutEnabled {
		t.Fatalf("client %T, want a *redis.Client with ContextTimeoutEnabled", client)
	}
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	closeAll()
	closeAll() // twice is harmless
	if err := client.Ping(t.Context()).Err(); err == nil {
		t.Fatal("PING succeeded after close")
	}
}

// TestConnectConfigured connects to the Redis the test environment names
// (see redistest), as REDIS_URL or REDIS_CLUSTER_ADDRS would.
func TestConnectConfigured(t *testing.T) {
	srv := redistest.New(t)
	var cfg Config
	switch c := srv.Client().(type) {
	case *redis.Client:
		if srv.Topology == redistest.Sentinel {
			master := os.Getenv(redistest.EnvSentinelMaster)
			if master == "" {
				master = redistest.DefaultSentinelMaster
			}
			cfg.Sentinel = &Sentinel{Addrs: strings.Split(os.Getenv(redistest.EnvSentinelAddrs), ","), Master: master}
			break
		}
		o := c.Options()
		cfg.Redis = &redis.Options{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig}
	case *redis.ClusterClient:
		cfg.ClusterAddrs = c.Options().Addrs
	}
	var logs logBuffer
	client, closeAll, err := Connect(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Connect(%s): %v", srv.Topology, err)
	}
	defer closeAll()
	if logs.String() != "" {
		t.Errorf("log = %q; want nothing", logs.String())
	}
	switch c := client.(type) {
	case *redis.ClusterClient:
		if srv.Topology != redistest.Cluster || !c.Options().ContextTimeoutEnabled {
			t.Errorf("a %T on %s, ContextTimeoutEnabled %v", c, srv.Topology, c.Options().ContextTimeoutEnabled)
		}
	case *redis.Client:
		if srv.Topology == redistest.Cluster || !c.Options().ContextTimeoutEnabled {
			t.Errorf("a %T on %s, ContextTimeoutEnabled %v", c, srv.Topology, c.Options().ContextTimeoutEnabled)
		}
		if cfg.Redis != nil && cfg.Redis.ContextTimeoutEnabled {
			t.Error("Connect changed the caller's options")
		}
	}
	key := srv.Key("connect")
	if err := client.Set(t.Context(), key, "1", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
}

func TestConnectUnreachable(t *testing.T) {
	refused := redistest.Refused(t).(*redis.Client).Options().Addr
	hung := redistest.Hung(t).(*redis.Client).Options().Addr
	for _, tc := range []struct {
		name string
		cfg  Config
		addr string
	}{
		{"refused", Config{Redis: &redis.Options{Addr: refused}}, refused},
		// Hung answers nothing: only the PING deadline ends the wait.
		{"hung", Config{Redis: &redis.Options{Addr: hung}}, hung},
		{"cluster refused", Config{ClusterAddrs: []string{refused}}, refused},
		{"cluster hung", Config{ClusterAddrs: []string{hung}}, hung},
		{"sentinel refused", Config{Sentinel: &Sentinel{Addrs: []string{refused}, Master: "mymaster"}}, refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, closeAll, err := Connect(tc.cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				closeAll()
				t.Fatalf("Connect = %T, nil; want an error", client)
			}
			if !strings.Contains(err.Error(), tc.addr) || !strings.Contains(err.Error(), "PING") {
				t.Errorf("error %q; want one naming %s and PING", err, tc.addr)
			}
		})
	}
}
