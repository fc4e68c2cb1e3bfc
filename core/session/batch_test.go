package session

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/batch/batchtest"
	"github.com/redisware/redisware/core/redistest"
)

// browsers returns n clients of m, each with a session of its own holding
// n = 2: created by one Incr, loaded and added to by a second one, so that
// every node has the scripts (a NOSCRIPT reply, which means the script did
// not run, is not what is tested).
func browsers(t *testing.T, m *Manager, n int) []*client {
	t.Helper()
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = &client{t: t, m: m, h: app(t)}
		for _, want := range []string{"1", "2"} {
			if body := cs[i].do("/incr?k=n").Body.String(); body != want || cs[i].cookie == "" {
				t.Fatalf("browser %d: Incr answered %q, cookie %q; want %s", i, body, cs[i].cookie, want)
			}
		}
	}
	return cs
}

// count returns the integer n of c's session, read by a request of its own.
func count(t *testing.T, c *client) string {
	t.Helper()
	read := *c
	read.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		if err := s.Load(r.Context()); err != nil {
			t.Errorf("loading the session: %v", err)
		}
		fmt.Fprint(w, s.GetInt("n"))
	})
	return read.do("/").Body.String()
}

// incrAsync sends /incr?k=n from each of cs, each in a goroutine of its own,
// and returns a function that waits for them and returns the bodies.
func incrAsync(cs []*client) func() []string {
	bodies := make([]string, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { bodies[i] = c.do("/incr?k=n").Body.String() })
	}
	return func() []string { wg.Wait(); return bodies }
}

// formBatch adds a gate to rdb, m's client, and sends an Incr from each of
// the first batch.Slots clients, which the gate holds so that they take
// the slots, then one from each of the others, which wait in m's next
// batch. It returns the gate and the waits of both groups.
func formBatch(t *testing.T, m *Manager, rdb redis.UniversalClient, cs []*client) (g *batchtest.Gate, first, rest func() []string) {
	t.Helper()
	g = batchtest.New()
	rdb.AddHook(g)
	first = incrAsync(cs[:batch.Slots])
	batchtest.WaitFor(t, "the slots taken", func() bool { return g.Held() == batch.Slots })
	rest = incrAsync(cs[batch.Slots:])
	n := len(cs) - batch.Slots
	batchtest.WaitFor(t, "the requests in the next batch", func() bool { return m.batches.Waiting() == n })
	return g, first, rest
}

// While batch.Slots script calls are out, those of other requests wait for
// a slot and then go out together: 100 Incrs on 100 sessions, made while
// the slots are taken, cost one round trip per batch.MaxBatch of them (on
// a Cluster, one per node of each batch), and each adds once to its own
// session.
func TestScriptsGoOutTogether(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	m, err := New(rdb, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	cs := browsers(t, m, batch.Slots+100)
	g, first, rest := formBatch(t, m, rdb, cs)
	g.Open()
	for _, bodies := range [][]string{first(), rest()} {
		for i, b := range bodies {
			if b != "3" {
				t.Errorf("request %d: %q, want 3", i, b)
			}
		}
	}
	g.CheckBatches(t, rdb, 100)
	for _, i := range []int{0, 50, len(cs) - 1} {
		if n := count(t, cs[i]); n != "3" {
			t.Errorf("session %d holds n = %q, want 3", i, n)
		}
	}
}

// A batch of Incrs whose reply is lost after the server ran it is never
// re-sent (the calls are NoRetry): each session in it has added once or,
// if its script did not run, not at all, never twice; each request that
// was answered got its single sum; and each call was sent once.
func TestIncrLostBatchAddsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var f redistest.Faults
	rdb := srv.FaultyClient(&f)
	m, err := New(rdb, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	cs := browsers(t, m, batch.Slots+38)
	f.ResetScriptCalls()
	g, first, rest := formBatch(t, m, rdb, cs)
	// One request's call fails unsent; its slot frees, and the batch's
	// pipeline is the next script call written: its reply is lost.
	f.DropScriptReplies(1)
	g.FailOne(t)
	bodies := rest()
	g.Open()
	singles := first()
	sent := f.ScriptCalls()
	lost := 0
	for i, b := range bodies {
		n := count(t, cs[batch.Slots+i])
		switch {
		case b == "3":
			if n != "3" {
				t.Errorf("session %d: answered 3, holds %q", i, n)
			}
		case strings.Contains(b, "Service Unavailable"): // the outage answer
			lost++
			if n != "2" && n != "3" {
				t.Errorf("session %d: failed, holds %q; want 2 or 3, never more", i, n)
			}
		default:
			t.Errorf("session %d: answered %q, holds %q; want 3, or the outage answer", i, b, n)
		}
	}
	if lost == 0 {
		t.Fatal("no request of the batch failed: the fault was not injected")
	}
	failedUnsent := 0
	for i, b := range singles {
		n := count(t, cs[i])
		switch {
		case b == "3" && n == "3":
		case b != "3" && n == "2":
			failedUnsent++
		default:
			t.Errorf("single %d: answered %q, holds %q", i, b, n)
		}
	}
	if failedUnsent != 1 {
		t.Errorf("%d requests failed unsent, want the one the gate failed", failedUnsent)
	}
	if got, want := sent, int64(len(cs)-1); got != want {
		t.Errorf("%d script calls sent for the Incrs, want %d: one per request but the one never sent", got, want)
	}
}
