package contract

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/app"
)

// faultyTimeout bounds each Redis call of the faulty fleet's middleware, so
// that a call whose reply never comes ends soon; long enough that a call
// that is answered never reaches it on a loaded CI machine (a spurious 503
// would fail the test), where RunFleet's 10 s would make the stall
// subtest slow.
const faultyTimeout = time.Second

// giveUpWait bounds how long a claim whose reply was lost may outlive the
// 503 it caused: the guard gives it up at once, in the background, long
// before its ClaimTTL (10 s by default) would end it.
const giveUpWait = 2 * time.Second

// stallBound bounds a request whose Redis calls all stall: each ends at
// faultyTimeout, never at the faulty client's minute-long read timeout.
const stallBound = 10 * faultyTimeout

// node is one instance of a faulty fleet.
type node struct {
	name   string
	c      *client
	faults *redistest.Faults // breaks this instance's connections only
	loss   *replyLoss        // picks which of its script calls loses its reply
}

// RunFleetFaulty checks, as subtests of t, that the builds of the reference
// app (at least three; one instance each, named by the map's keys), run as
// a fleet on one Redis as RunFleet runs them, keep their promises when the
// network loses the reply of a Lua script that the server ran: the client
// is never told a false thing, nothing runs twice, and a client's retry,
// sent to another instance of another framework, finds the state the lost
// call left.
//
// Each instance's client is the server's FaultyClient, with Faults of its
// own (a loss aimed at one instance can only hit that instance's calls),
// and its Redis calls are bounded by a one-second Timeout. Each subtest loses
// one reply on one instance, chosen in turn, and retries on the others.
func RunFleetFaulty(t *testing.T, builds map[string]NewHandler) {
	t.Helper()
	if len(builds) < 3 {
		t.Fatalf("RunFleetFaulty needs three builds (one loses a reply, another takes the retry, a third the next); got %d", len(builds))
	}
	srv := redistest.New(t)
	admin := srv.Client() // outside the faults
	byName := map[string]*node{}
	names, clients := startFleet(t, builds, func(name string) app.Backend {
		n := &node{name: name, faults: new(redistest.Faults)}
		rdb := srv.FaultyClient(n.faults)
		n.loss = &replyLoss{faults: n.faults, admin: admin}
		rdb.AddHook(n.loss)
		byName[name] = n
		return app.Backend{Client: rdb, Prefix: srv.Prefix, Timeout: faultyTimeout}
	})
	fleet := make([]*node, len(names))
	for i, name := range names {
		fleet[i] = byName[name]
		fleet[i].c = clients[i]
	}
	t.Logf("instances %v on faulty connections to redis topology %s, key prefix %s", names, srv.Topology, srv.Prefix)

	// The i-th subtest loses a reply on fleet[i], and retries on the next
	// instances, so every framework takes each part in turn.
	trio := func(i int) (a, b, c *node) {
		n := len(fleet)
		return fleet[i%n], fleet[(i+1)%n], fleet[(i+2)%n]
	}
	for i, tc := range []struct {
		name string
		run  func(t *testing.T, a, b, c *node)
	}{
		{"orders: a claim whose reply is lost, retried on another instance", func(t *testing.T, a, b, c *node) {
			testLostClaim(t, fleet, admin, srv.Prefix, a, b, c)
		}},
		{"orders: a store whose reply is lost, retried on another instance", func(t *testing.T, a, b, c *node) {
			testLostStore(t, fleet, srv.Prefix, a, b, c)
		}},
		{"sessions: an Incr whose reply is lost adds once", testLostIncr},
		{"sessions: a logout whose reply is lost", testLostLogout},
		{"sessions: a stalled Redis answers 503 in time and logs no one out", testStalledSession},
	} {
		a, b, c := trio(i)
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("fault on %s; retries on %s, then %s", a.name, b.name, c.name)
			tc.run(t, a, b, c)
		})
	}
}

// clientsOf returns the clients of nodes.
func clientsOf(nodes []*node) []*client {
	out := make([]*client, len(nodes))
	for i, n := range nodes {
		out[i] = n.c
	}
	return out
}

// postOrder sends POST /orders to c with key and body, as the user b is
// logged in as.
func postOrder(t *testing.T, c *client, b *browser, key, body string) *response {
	t.Helper()
	h := keyed(key)
	h.Set("Cookie", "session="+b.cookie)
	return c.do(t, http.MethodPost, "/orders", h, body)
}

// onOrderRecord matches the script calls on a record of the orders guard
// (<prefix>idem:orders:{<hash>}): on one POST /orders, the claim, then,
// after the handler ran, the store.
func onOrderRecord(prefix string) func(scriptCall) bool {
	return func(c scriptCall) bool {
		return len(c.keys) == 1 && strings.HasPrefix(c.keys[0], prefix+"idem:orders:")
	}
}

// lostOne settles n's loss and checks that exactly one call lost its reply.
func lostOne(t *testing.T, n *node, what string) scriptCall {
	t.Helper()
	lost := n.loss.settle()
	if len(lost) != 1 {
		t.Fatalf("%d script calls on %s lost their reply; want one, %s", len(lost), n.name, what)
	}
	return lost[0]
}

// waitGone waits until key no longer exists, failing t after giveUpWait.
func waitGone(t *testing.T, admin redis.UniversalClient, key string) {
	t.Helper()
	deadline := time.Now().Add(giveUpWait)
	for {
		n, err := admin.Exists(context.Background(), key).Result()
		if err != nil {
			t.Fatalf("EXISTS %s: %v", key, err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the claim whose reply was lost still holds %s %v after the 503: a retry gets 409 until its ClaimTTL ends it", key, giveUpWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantReplays sends the request again to each of nodes and checks that
// each replays want, byte for byte, with Idempotent-Replayed: true.
func wantReplays(t *testing.T, b *browser, key, body string, want *response, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		r := postOrder(t, n.c, b, key, body)
		if r.StatusCode != want.StatusCode || !bytes.Equal(r.Body, want.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry on %s: %d %s replayed=%q; want %d %s replayed", n.name, r.StatusCode, r.Body, r.Header.Get("Idempotent-Replayed"), want.StatusCode, want.Body)
		}
	}
}

// testLostClaim: the reply of the guard's claim is lost on a, after
// Redis made the claim. a answers 503 with Retry-After, without running
// the handler, and gives the claim up at once; the retry on b runs the
// handler, once in the whole fleet; later retries on c and a replay its
// response. (Were the claim re-sent, its second run would find the first's
// record in flight, and a would answer 409.)
func testLostClaim(t *testing.T, fleet []*node, admin redis.UniversalClient, prefix string, a, b, c *node) {
	all := clientsOf(fleet)
	u := &browser{c: a.c}
	u.login(t, "ada")
	const body = `{"item":"kite","qty":2}`
	// A first order: the guard's scripts are in the server's cache (a
	// NOSCRIPT reply means the script did not run: not what is tested).
	wantOrder(t, postOrder(t, a.c, u, "claim-warm-1", body), "kite", 2)
	ran := claimedTotal(t, all)
	before := scrape(t, a.c)

	a.loss.lose(0, onOrderRecord(prefix))
	r := postOrder(t, a.c, u, "claim-lost-1", body)
	claim := lostOne(t, a, "the claim")
	wantProblem(t, r, http.StatusServiceUnavailable)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("%s on %s: Retry-After %q, want 1", r.req, a.name, got)
	}
	wantGrown(t, a.name, before, scrape(t, a.c), map[string]float64{
		redisSeries("idempotency", "claim", "error"): 1, // the lost reply was the claim's
		idemSeries("unavailable"):                    1,
		idemSeries("claimed"):                        0,
	})
	if got := claimedTotal(t, all) - ran; got != 0 {
		t.Fatalf("the handler ran %v times for a request answered 503; want 0", got)
	}

	waitGone(t, admin, claim.keys[0])
	rb := postOrder(t, b.c, u, "claim-lost-1", body)
	wantOrder(t, rb, "kite", 2)
	if got := rb.Header.Get("Idempotent-Replayed"); got != "" {
		t.Fatalf("the retry on %s, the first to run, says Idempotent-Replayed: %q", b.name, got)
	}
	if got := claimedTotal(t, all) - ran; got != 1 {
		t.Fatalf("the handler ran %v times across the fleet; want 1, on %s", got, b.name)
	}
	wantReplays(t, u, "claim-lost-1", body, rb, c, a)
	if got := claimedTotal(t, all) - ran; got != 1 {
		t.Fatalf("the handler ran %v times across the fleet after the replays; want 1", got)
	}
}

// testLostStore: the handler ran on a, and the reply of the script that
// stored its response is lost, after Redis stored it. The guard documents
// that a response it could not store is still delivered, the failure
// reported (a store error), and that a retry may then run the handler
// again once the claim lapses; here the store did happen, so the client
// gets the handler's real answer from a, and every retry, on b, c and a,
// replays it: the handler ran once in the fleet, and the store was sent
// once (as many script calls as an order without a fault).
func testLostStore(t *testing.T, fleet []*node, prefix string, a, b, c *node) {
	all := clientsOf(fleet)
	u := &browser{c: a.c}
	u.login(t, "bea")
	const body = `{"item":"sail","qty":1}`
	wantOrder(t, postOrder(t, a.c, u, "store-warm-1", body), "sail", 1)
	a.faults.ResetScriptCalls()
	wantOrder(t, postOrder(t, a.c, u, "store-warm-2", body), "sail", 1)
	calls := a.faults.ScriptCalls() // those of one order on a, without a fault
	ran := claimedTotal(t, all)
	before := scrape(t, a.c)

	a.loss.lose(1, onOrderRecord(prefix)) // the second call on the record: the store
	a.faults.ResetScriptCalls()
	r := postOrder(t, a.c, u, "store-lost-1", body)
	sent := a.faults.ScriptCalls()
	lostOne(t, a, "the store")
	wantOrder(t, r, "sail", 1)
	if got := r.Header.Get("Idempotent-Replayed"); got != "" {
		t.Fatalf("%s on %s, the first to run, says Idempotent-Replayed: %q", r.req, a.name, got)
	}
	if sent != calls {
		t.Errorf("the order whose store reply was lost made %d script calls; one without a fault makes %d: a call was sent again, or one added", sent, calls)
	}
	wantGrown(t, a.name, before, scrape(t, a.c), map[string]float64{
		redisSeries("idempotency", "store", "error"): 1, // the lost reply was the store's
		redisSeries("idempotency", "store", "ok"):    0,
		idemSeries("claimed"):                        1,
	})
	if got := claimedTotal(t, all) - ran; got != 1 {
		t.Fatalf("the handler ran %v times across the fleet; want 1, on %s", got, a.name)
	}
	wantReplays(t, u, "store-lost-1", body, r, b, c, a)
	if got := claimedTotal(t, all) - ran; got != 1 {
		t.Fatalf("the handler ran %v times across the fleet after the retries; want 1: a retry ran it again", got)
	}
}

// testLostIncr: GET /me adds a visit to the session with Session.Incr;
// its reply is lost on a, after Redis added. a answers the route's 503
// (the client is told the read failed), the session lives on, and the
// lost call added exactly once: the next visit, on c, is the fourth after
// visits 1 and 2, not the fifth (the lost call run twice) nor the third
// (the lost call not counted, which Redis cannot undo). Were the call
// re-sent, a would answer 200 with visit 4 and c would see 5.
func testLostIncr(t *testing.T, a, b, c *node) {
	u := &browser{c: a.c}
	u.login(t, "cy")
	for i, n := range []*node{a, b} {
		u.c = n.c
		if user, visits := u.me(t); user != "cy" || visits != i+1 {
			t.Fatalf("GET /me on %s = %q, %d; want cy, %d", n.name, user, visits, i+1)
		}
	}
	before := scrape(t, a.c)
	a.loss.lose(0, func(c scriptCall) bool { return slices.Contains(c.argv, "v:visits") })
	u.c = a.c
	r := u.do(t, http.MethodGet, "/me", "", "")
	lostOne(t, a, "the Incr")
	r.wantJSON(t, http.StatusServiceUnavailable, `{"error":"sessions unavailable"}`)
	wantGrown(t, a.name, before, scrape(t, a.c), map[string]float64{
		redisSeries("session", "incr", "error"): 1, // the lost reply was the Incr's
		redisSeries("session", "incr", "ok"):    0,
	})
	u.c = c.c
	if user, visits := u.me(t); user != "cy" || visits != 4 {
		t.Fatalf("GET /me on %s after the lost Incr = %q, %d; want cy, 4: the lost call adds once, this one once", c.name, user, visits)
	}
}

// testLostLogout: the reply of the script that ends the session is lost on
// a, after Redis ended it. The session middleware replaces the response
// with its 503 (a failed write is never answered as done) and leaves the
// cookie alone; the session is dead all the same, on every instance, each
// of which clears the cookie; and the client's retry of the logout, on
// another instance, succeeds. (Were the call re-sent, its second run
// would find nothing to end, and a would answer 200.)
func testLostLogout(t *testing.T, a, b, c *node) {
	// A logout without a fault: the script is in the server's cache.
	w := &browser{c: a.c}
	w.login(t, "dee")
	w.do(t, http.MethodPost, "/logout", "", "").wantJSON(t, http.StatusOK, `{"ok":true}`)

	u := &browser{c: a.c}
	u.login(t, "dee")
	u.c = b.c
	if user, _ := u.me(t); user != "dee" {
		t.Fatalf("GET /me on %s: %q, want dee", b.name, user)
	}
	cookie := u.cookie
	before := scrape(t, a.c)
	a.loss.lose(0, func(c scriptCall) bool { // POST /logout's one session call
		return slices.ContainsFunc(c.keys, func(k string) bool { return strings.Contains(k, "sess:") })
	})
	u.c = a.c
	r := u.do(t, http.MethodPost, "/logout", "", "")
	lostOne(t, a, "the session's end")
	wantProblem(t, r, http.StatusServiceUnavailable)
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("the logout answered 503 sets %q; want the cookie left alone", sc)
	}
	wantGrown(t, a.name, before, scrape(t, a.c), map[string]float64{
		redisSeries("session", "destroy", "error"): 1, // the lost reply was the destroy's
		redisSeries("session", "destroy", "ok"):    0,
	})
	for _, n := range []*node{b, c, a} {
		v := &browser{c: n.c, cookie: cookie}
		if user, _ := v.me(t); user != "" {
			t.Fatalf("the session whose logout reply was lost still logs in as %q on %s", user, n.name)
		}
		if v.cookie != "" {
			t.Fatalf("GET /me on %s with the ended session's cookie did not clear it", n.name)
		}
	}
	u.c = b.c
	r = u.do(t, http.MethodPost, "/logout", "", "")
	r.wantJSON(t, http.StatusOK, `{"ok":true}`)
	if u.cookie != "" || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("the retried logout on %s did not clear the cookie: %q", b.name, r.Header.Get("Set-Cookie"))
	}
}

// testStalledSession: Redis stops answering a's script calls (the replies
// never come, the connections stay open). GET /me on a is answered 503
// (the session could not be read) within a few Timeouts, not 401 (its
// user is not logged out) and without touching the cookie; once Redis
// answers again the user is still logged in on a, and the stalled request
// counted no visit.
func testStalledSession(t *testing.T, a, b, _ *node) {
	u := &browser{c: a.c}
	u.login(t, "eve")
	if user, visits := u.me(t); user != "eve" || visits != 1 {
		t.Fatalf("GET /me on %s = %q, %d; want eve, 1", a.name, user, visits)
	}
	cookie := u.cookie
	a.faults.StallScriptReplies(true)
	start := time.Now()
	r := u.do(t, http.MethodGet, "/me", "", "")
	took := time.Since(start)
	a.faults.StallScriptReplies(false)
	wantProblem(t, r, http.StatusServiceUnavailable)
	if took > stallBound {
		t.Errorf("%s on %s took %v while Redis stalled; want at most %v (Timeout %v per call)", r.req, a.name, took, stallBound, faultyTimeout)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 || u.cookie != cookie {
		t.Fatalf("%s on %s, answered 503 while Redis stalled, sets %q; want the cookie left alone", r.req, a.name, sc)
	}
	if user, visits := u.me(t); user != "eve" || visits != 2 {
		t.Fatalf("GET /me on %s after the stall = %q, %d; want eve, 2", a.name, user, visits)
	}
	u.c = b.c
	if user, visits := u.me(t); user != "eve" || visits != 3 {
		t.Fatalf("GET /me on %s after the stall = %q, %d; want eve, 3", b.name, user, visits)
	}
}
