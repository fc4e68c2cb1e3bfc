package contract

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/app"
)

// RunFleet checks, as subtests of t, that the builds of the reference app
// (one instance each, named by the map's keys) behave as one app when
// they share a Redis, as a fleet migrating from one framework to another
// does: one rate-limit budget per route and client whatever the framework
// wrote the route as, one idempotency record per user and key whatever
// instance answers, sessions valid everywhere and revoked everywhere.
func RunFleet(t *testing.T, builds map[string]NewHandler) {
	t.Helper()
	RunFleetOn(t, builds, func(srv *redistest.Server) (redis.UniversalClient, error) { return srv.Client(), nil })
}

// RunFleetOn is RunFleet with each instance's client made by newClient
// from the test's server (an AutoPipeliner, say), as RunOn is Run's.
func RunFleetOn(t *testing.T, builds map[string]NewHandler, newClient func(*redistest.Server) (redis.UniversalClient, error)) {
	t.Helper()
	srv := redistest.New(t)
	names, clients := startFleet(t, builds, func(name string) app.Backend {
		rdb, err := newClient(srv)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return app.Backend{Client: rdb, Prefix: srv.Prefix, Timeout: 10 * time.Second}
	})
	t.Logf("instances %v on redis topology %s, key prefix %s", names, srv.Topology, srv.Prefix)

	t.Run("orders: concurrent duplicates run once", func(t *testing.T) { testFleetDuplicates(t, clients) })
	t.Run("orders: two users behind one address", func(t *testing.T) { testFleetTwoUsers(t, clients) })
	t.Run("sessions: two users behind one address, at once", func(t *testing.T) { testFleetConcurrentUsers(t, clients) })
	t.Run("items: one budget across ids and frameworks", func(t *testing.T) { testItemsAcross(t, clients) })
	t.Run("unmatched paths: one budget across frameworks", func(t *testing.T) { testUnmatchedAcross(t, clients, srv) })
	t.Run("greeting: each user their own", func(t *testing.T) { testGreetingAcross(t, clients) })
	t.Run("sessions: revoked everywhere", func(t *testing.T) { testFleetRevoke(t, clients) })
	t.Run("cached: one store, invalidated everywhere", func(t *testing.T) { testFleetCached(t, clients) })
}

// testFleetCached checks that the instances share GET /cached's stored
// responses, and that an invalidation on any instance (by URL, then by
// tag) reaches all: the next request anywhere runs the handler once, and
// the others are served what it stored. The requests name one host, as
// clients behind a load balancer do.
func testFleetCached(t *testing.T, clients []*client) {
	const q = "fleet"
	host := http.Header{"Host": {"fleet.example"}}
	get := func(c *client) *response { return c.get(t, "/cached?q="+q, host) }
	wantMissed := func(r *response) cachedAnswer {
		t.Helper()
		a := wantCached(t, r, q)
		if s := cacheStatusOf(t, r); strings.Contains(s, "; hit") {
			t.Fatalf("%s: Cache-Status %q after an invalidation: want the handler run", r.req, s)
		}
		return a
	}
	invalidate := func(c *client, form string) *response {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Host": host["Host"]}
		r := c.do(t, http.MethodPost, "/cached/invalidate", h, form)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", r.req, form, r.StatusCode, r.Body)
		}
		return r
	}
	hitEverywhere := func(stored cachedAnswer, except int) {
		t.Helper()
		for i, c := range clients {
			if i != except {
				wantCachedHit(t, get(c), stored, q)
			}
		}
	}

	first := wantMissed(get(clients[0]))
	hitEverywhere(first, 0)

	last := len(clients) - 1
	invalidate(clients[last], "url="+url.QueryEscape("/cached?q="+q))
	second := wantMissed(get(clients[1%len(clients)]))
	hitEverywhere(second, 1%len(clients))

	r := invalidate(clients[0], "tag=cached")
	if !strings.Contains(string(r.Body), `"invalidated":1`) {
		t.Fatalf("%s tag=cached: %s, want {\"invalidated\":1}", r.req, r.Body)
	}
	third := wantMissed(get(clients[last]))
	hitEverywhere(third, last)
}

// startFleet starts one instance of each build, in the order of their
// names, each on the Backend newBackend returns for its name (with a
// Telemetry of its own, so each instance's /metrics counts its own work),
// served by httptest.NewServer until t ends. It returns the names and the
// instances' clients, in the same order.
func startFleet(t *testing.T, builds map[string]NewHandler, newBackend func(name string) app.Backend) ([]string, []*client) {
	t.Helper()
	names := make([]string, 0, len(builds))
	for name := range builds {
		names = append(names, name)
	}
	sort.Strings(names)
	clients := make([]*client, 0, len(names))
	for _, name := range names {
		tel, err := app.NewTelemetry()
		if err != nil {
			t.Fatal(err)
		}
		b := newBackend(name)
		b.Telemetry = tel
		h, err := builds[name](b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		c := &client{base: ts.URL, http: ts.Client()}
		c.http.Timeout = requestTimeout
		clients = append(clients, c)
	}
	return names, clients
}

// claimedTotal sums the orders claimed by every instance.
func claimedTotal(t *testing.T, clients []*client) float64 {
	t.Helper()
	var n float64
	for _, c := range clients {
		n += claimedOrders(t, c)
	}
	return n
}

// testFleetDuplicates sends 200 concurrent copies of one POST /orders,
// spread over the instances: the handler runs once in the whole fleet,
// every other copy gets 409, and every retry, on any instance, replays the
// same bytes.
func testFleetDuplicates(t *testing.T, clients []*client) {
	const n = 200
	before := claimedTotal(t, clients)
	body := `{"item":"lamp","qty":1}`
	var wg sync.WaitGroup
	responses := make([]*response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			responses[i] = clients[i%len(clients)].do(t, http.MethodPost, "/orders", keyed("fleet-dup-1"), body)
		}()
	}
	wg.Wait()
	var created []*response
	for _, r := range responses {
		switch r.StatusCode {
		case http.StatusCreated:
			created = append(created, r)
		case http.StatusConflict:
		default:
			t.Fatalf("%s: %d %s, want 201 or 409", r.req, r.StatusCode, r.Body)
		}
	}
	if got := claimedTotal(t, clients) - before; got != 1 {
		t.Fatalf("the handler ran %v times across the fleet, want 1", got)
	}
	if len(created) == 0 {
		t.Fatal("no copy got 201")
	}
	first := created[0].Body
	for _, r := range created {
		if !bytes.Equal(r.Body, first) {
			t.Fatalf("two 201 bodies differ: %s and %s", first, r.Body)
		}
	}
	for i, c := range clients {
		r := c.do(t, http.MethodPost, "/orders", keyed("fleet-dup-1"), body)
		if r.StatusCode != http.StatusCreated || !bytes.Equal(r.Body, first) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry on instance %d: %d %s replayed=%q, want %s", i, r.StatusCode, r.Body, r.Header.Get("Idempotent-Replayed"), first)
		}
	}
}

// testFleetTwoUsers: two users, logged in with session cookies, behind one
// address, send the same key and body: each gets an order of their own, and
// each retry, on any instance, replays the user's own.
func testFleetTwoUsers(t *testing.T, clients []*client) {
	before := claimedTotal(t, clients)
	alice := &browser{c: clients[0]}
	alice.login(t, "alice")
	bob := &browser{c: clients[len(clients)-1]}
	bob.login(t, "bob")
	post := func(b *browser, c *client) *response {
		h := keyed("same-key-1")
		h.Set("Cookie", "session="+b.cookie)
		return c.do(t, http.MethodPost, "/orders", h, `{"item":"mug","qty":3}`)
	}
	// Both through one instance, so the two orders get distinct numbers.
	a := post(alice, clients[0])
	b := post(bob, clients[0])
	oa, ob := decodeOrder(t, a), decodeOrder(t, b)
	if oa.OrderID == ob.OrderID {
		t.Fatalf("alice and bob got the same order %d: bob was served alice's record", oa.OrderID)
	}
	if got := claimedTotal(t, clients) - before; got != 2 {
		t.Fatalf("the handler ran %v times, want 2 (once per user)", got)
	}
	for i, c := range clients {
		if r := post(alice, c); !bytes.Equal(r.Body, a.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("alice's retry on instance %d: %d %s, want her own %s", i, r.StatusCode, r.Body, a.Body)
		}
		if r := post(bob, c); !bytes.Equal(r.Body, b.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("bob's retry on instance %d: %d %s, want his own %s", i, r.StatusCode, r.Body, b.Body)
		}
	}
}

// testFleetConcurrentUsers: two users logged in behind one address send
// GET /me at once, 30 each, spread over every instance, so that each
// instance's rate limiter and session manager have many calls out at once
// (which they send together, in shared pipelines): every answer names the
// user whose cookie it carried, and each user's visit counts are exactly
// the next 30, each once.
func testFleetConcurrentUsers(t *testing.T, clients []*client) {
	users := []*browser{{c: clients[0]}, {c: clients[len(clients)-1]}}
	names := []string{"fay", "gus"}
	first := make([]int, len(users))
	for i, b := range users {
		b.login(t, names[i])
		user, visits := b.me(t)
		if user != names[i] {
			t.Fatalf("GET /me for %s: %q", names[i], user)
		}
		first[i] = visits
	}
	const each = 30
	type answer struct {
		user   string
		visits int
	}
	answers := make([][]answer, len(users))
	var wg sync.WaitGroup
	for u, b := range users {
		answers[u] = make([]answer, each)
		h := http.Header{}
		h.Set("Cookie", "session="+b.cookie)
		for i := range each {
			c := clients[(u+i)%len(clients)]
			wg.Go(func() {
				r := c.do(t, http.MethodGet, "/me", h, "")
				var v struct {
					User   string `json:"user"`
					Visits int    `json:"visits"`
				}
				if r.StatusCode != http.StatusOK || json.Unmarshal(r.Body, &v) != nil {
					t.Errorf("%s's GET /me: %d %s", names[u], r.StatusCode, r.Body)
					return
				}
				answers[u][i] = answer{v.User, v.Visits}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for u := range users {
		seen := map[int]bool{}
		for _, a := range answers[u] {
			if a.user != names[u] {
				t.Fatalf("%s's cookie was answered for %q", names[u], a.user)
			}
			seen[a.visits] = true
		}
		for v := first[u] + 1; v <= first[u]+each; v++ {
			if !seen[v] {
				t.Fatalf("%s's visit counts %v: %d missing; want each of %d..%d once", names[u], answers[u], v, first[u]+1, first[u]+each)
			}
		}
		if user, visits := users[u].me(t); user != names[u] || visits != first[u]+each+1 {
			t.Fatalf("%s afterwards: %q, %d visits; want %d", names[u], user, visits, first[u]+each+1)
		}
	}
}

// testFleetRevoke: sessions made on one instance are seen, and ended, by
// the others: log out everywhere on one instance ends the user's sessions
// made on every other, and a revoked cookie stays dead on all of them.
func testFleetRevoke(t *testing.T, clients []*client) {
	var users []*browser
	for _, c := range clients {
		b := &browser{c: c}
		b.login(t, "carol")
		users = append(users, b)
	}
	// Every instance knows every session.
	for i, b := range users {
		b.c = clients[(i+1)%len(clients)]
		if u, _ := b.me(t); u != "carol" {
			t.Fatalf("session %d made on one instance is %q on another", i, u)
		}
	}
	last := users[len(users)-1]
	r := last.do(t, http.MethodPost, "/logout-all", "", "")
	r.wantJSON(t, http.StatusOK, `{"revoked":`+itoa(len(users))+`}`)
	for i, b := range users[:len(users)-1] {
		for j, c := range clients {
			b.c = c
			old := b.cookie
			if u, _ := b.me(t); u != "" {
				t.Fatalf("session %d revoked on one instance still logs in as %q on instance %d", i, u, j)
			}
			b.cookie = old // keep presenting the revoked cookie
		}
	}
}
