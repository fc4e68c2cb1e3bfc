package failover_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/internal/redisproc"
)

// recoveryBound is how soon after the promotion every route must work
// again: generous for a loaded two-core machine running the race detector
// (measured: well under a second; see the MEASURED lines).
const recoveryBound = 15 * time.Second

// A Cluster master killed (SIGKILL) under load on every route of the three
// builds: once its replica is promoted, every route works again within
// recoveryBound, with no restart, and every session and order written (and
// replicated) before the kill is intact.
func TestClusterFailover(t *testing.T) {
	redisproc.Gate(t)
	c := redisproc.StartCluster(t, redisproc.ClusterOptions{Replicas: 1, NodeTimeout: time.Second})
	ctx := context.Background()
	insts := startApps(t, "fo", func() redis.UniversalClient { return c.Client(nil) })

	// The victim: the master with the most slots.
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := masters[0]
	replicas, err := c.ReplicasOf(ctx, victim.ID)
	if err != nil || len(replicas) != 1 {
		t.Fatalf("replicas of %s: %v, %v", victim.Addr, replicas, err)
	}
	promoted := replicas[0]
	observer := c.Server(masters[1].Addr)

	kept := writeDurable(t, insts, 24)
	// Some of them must live on the victim, or the test proves nothing.
	for _, pattern := range []string{"fo:*:sess:*:s:*", "fo:*:idem:orders:*"} {
		keys, err := c.Server(victim.Addr).Client().Keys(ctx, pattern).Result() // a test server: KEYS is fine
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Fatalf("no key %s on the victim %s", pattern, victim.Addr)
		}
		t.Logf("%d keys %s on the victim", len(keys), pattern)
	}

	l := startLoad(t, insts)
	time.Sleep(time.Second)
	for i, m := range masters {
		if err := replicate(ctx, c.Server(m.Addr).Client(), keyIn(m)); err != nil {
			t.Fatalf("replicating master %d %s: %v", i, m.Addr, err)
		}
	}

	tKill := l.now()
	c.Server(victim.Addr).Kill()
	tPromo := time.Duration(-1)
	for tPromo < 0 {
		if l.now()-tKill > 30*time.Second {
			t.Fatalf("replica %s of the killed master %s not promoted within 30s", promoted.Addr, victim.Addr)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		text, err := observer.Client().ClusterNodes(cctx).Result()
		cancel()
		if err == nil {
			for _, n := range redisproc.ParseNodes(text) {
				if n.ID == promoted.ID && n.Has("master") {
					tPromo = l.now()
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("MEASURED cluster failover: SIGKILL of master %s -> replica %s promoted: %s", victim.Addr, promoted.Addr, fmtDur(tPromo-tKill))
	outs := l.waitRecovered(tKill, tPromo, 3*time.Second, recoveryBound+5*time.Second)
	l.halt()
	report(t, "cluster failover", "the promotion", outs, recoveryBound)
	kept.check(t)
}

// keyIn returns a key that hashes to a slot master serves.
func keyIn(master redisproc.Node) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("failover-wait:{%d}", i)
		if master.Serves(redisproc.KeySlot(k)) {
			return k
		}
	}
}

// A Sentinel master killed (SIGKILL) under load: once Sentinel has promoted
// the replica, every route works again within recoveryBound, through the
// failover client alone, and nothing written and replicated before is
// lost.
func TestSentinelFailover(t *testing.T) {
	redisproc.Gate(t)
	st := redisproc.StartSentinel(t, redisproc.SentinelOptions{})
	ctx := context.Background()
	insts := startApps(t, "fo", func() redis.UniversalClient { return st.Client(nil) })
	kept := writeDurable(t, insts, 12)

	l := startLoad(t, insts)
	time.Sleep(time.Second)
	if err := replicate(ctx, st.Master.Client(), "failover-wait"); err != nil {
		t.Fatal(err)
	}

	tKill := l.now()
	st.Master.Kill()
	tPromo, tSwitch := time.Duration(-1), time.Duration(-1)
	for tPromo < 0 || tSwitch < 0 {
		if l.now()-tKill > 30*time.Second {
			t.Fatalf("replica %s not promoted, or not announced, within 30s (promoted %v, announced %v)", st.Replica.Addr, tPromo >= 0, tSwitch >= 0)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		if tPromo < 0 {
			if info, err := st.Replica.Info(cctx, "replication"); err == nil && info["role"] == "master" {
				tPromo = l.now()
			}
		}
		if tSwitch < 0 {
			if a, err := st.MasterAddr(cctx); err == nil && a == st.Replica.Addr {
				tSwitch = l.now()
			}
		}
		cancel()
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("MEASURED sentinel failover: SIGKILL of master %s -> replica %s role:master %s, Sentinel names it %s",
		st.Master.Addr, st.Replica.Addr, fmtDur(tPromo-tKill), fmtDur(tSwitch-tKill))
	outs := l.waitRecovered(tKill, tPromo, 3*time.Second, recoveryBound+5*time.Second)
	l.halt()
	report(t, "sentinel failover", "the promotion", outs, recoveryBound)
	kept.check(t)
}

// migrationBound is how soon after `redis-cli --cluster reshard` returns
// every route must work again.
const migrationBound = 5 * time.Second

// 2000 slots move from one master to another while the app serves: no
// route fails for longer than the migration (each works again, 20 requests
// in a row, within 5 s of its end), and every session and order written
// before is intact. Then the script cache is flushed on every node, and
// every core's next call works (see checkScriptFlush).
func TestSlotMigration(t *testing.T) {
	redisproc.Gate(t)
	c := redisproc.StartCluster(t, redisproc.ClusterOptions{})
	ctx := context.Background()
	insts := startApps(t, "mig", func() redis.UniversalClient { return c.Client(nil) })
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from, to := masters[0], masters[1]
	kept := writeDurable(t, insts, 24)

	l := startLoad(t, insts)
	time.Sleep(time.Second)
	tStart := l.now()
	args := []string{"--cluster", "reshard", from.Addr, "--cluster-from", from.ID, "--cluster-to", to.ID,
		"--cluster-slots", "2000", "--cluster-yes"}
	out, err := runCLI(args...)
	tEnd := l.now()
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("MEASURED slot migration: 2000 slots from %s to %s took %s", from.Addr, to.Addr, fmtDur(tEnd-tStart))
	outs := l.waitRecovered(tStart, tEnd, 3*time.Second, migrationBound+5*time.Second)
	l.halt()
	report(t, "slot migration", "reshard returned", outs, migrationBound)
	after, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range after {
		if m.ID == from.ID && m.SlotCount() != from.SlotCount()-2000 {
			t.Fatalf("the source serves %d slots after the migration, want %d", m.SlotCount(), from.SlotCount()-2000)
		}
	}
	kept.check(t)

	flushAll := func() {
		for _, s := range c.Nodes {
			if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkScriptFlush(t, insts[0], flushAll)
}
