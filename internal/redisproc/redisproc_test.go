package redisproc_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redisware/redisware/internal/redisproc"
)

func TestKeySlot(t *testing.T) {
	// Values from CLUSTER KEYSLOT on Redis 7.
	for key, want := range map[string]int{"foo": 12182, "{user1000}.following": 3443, "{user1000}.followers": 3443, "a{}b": 13694, "{127.0.0.1}": 15613} {
		if got := redisproc.KeySlot(key); got != want {
			t.Errorf("KeySlot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestParseNodes(t *testing.T) {
	text := "07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected\n" +
		"e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 5462 [5461-<-292f]\n" +
		"292f 127.0.0.1:30002@31002 master,fail - 1426238316232 1426238313000 2 disconnected\n"
	nodes := redisproc.ParseNodes(text)
	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	r, m, f := nodes[0], nodes[1], nodes[2]
	if r.MasterID != "e7d1" || !r.Has("slave") || r.Addr != "127.0.0.1:30004" || !r.Connected {
		t.Errorf("replica %+v", r)
	}
	if m.MasterID != "" || !m.Has("myself") || m.SlotCount() != 5462 || !m.Serves(5462) || m.Serves(5461) {
		t.Errorf("master %+v", m)
	}
	if !f.Has("fail") || f.Connected || f.SlotCount() != 0 {
		t.Errorf("failed %+v", f)
	}
}

// A standalone server takes its arguments, answers, and is gone after
// Kill.
func TestStart(t *testing.T) {
	t.Parallel()
	s := redisproc.Start(t, "--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru")
	ctx := context.Background()
	mem, err := s.Info(ctx, "memory")
	if err != nil {
		t.Fatal(err)
	}
	if mem["maxmemory"] != strconv.Itoa(3<<20) || mem["maxmemory_policy"] != "allkeys-lru" {
		t.Fatalf("maxmemory %s policy %s", mem["maxmemory"], mem["maxmemory_policy"])
	}
	if s.Port < 21000 || s.Port > 29999 {
		t.Fatalf("port %d outside 21000-29999", s.Port)
	}
	s.Kill()
	if s.Alive() {
		t.Fatal("alive after Kill")
	}
	if err := s.Client().Ping(ctx).Err(); err == nil {
		t.Fatal("a killed server answered PING")
	}
}

// A cluster of 3 masters with a replica each is ready when it returns.
func TestStartCluster(t *testing.T) {
	t.Parallel()
	c := redisproc.StartCluster(t, redisproc.ClusterOptions{Replicas: 1, NodeTimeout: time.Second})
	ctx := context.Background()
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(masters) != 3 || len(c.Nodes) != 6 {
		t.Fatalf("%d masters of %d nodes", len(masters), len(c.Nodes))
	}
	for _, m := range masters {
		rs, err := c.ReplicasOf(ctx, m.ID)
		if err != nil || len(rs) != 1 {
			t.Fatalf("master %s: replicas %v, %v", m.Addr, rs, err)
		}
	}
	rdb := c.Client(nil)
	if err := rdb.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v", v, err)
	}
}

// The sentinels name the master, and a failover client reaches it.
func TestStartSentinel(t *testing.T) {
	t.Parallel()
	st := redisproc.StartSentinel(t, redisproc.SentinelOptions{})
	ctx := context.Background()
	addr, err := st.MasterAddr(ctx)
	if err != nil || addr != st.Master.Addr {
		t.Fatalf("master %q, %v; want %s", addr, err, st.Master.Addr)
	}
	rdb := st.Client(nil)
	if err := rdb.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Wait(ctx, 1, time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v", n, err)
	}
	if v, err := st.Replica.Client().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("replica GET = %q, %v", v, err)
	}
}
