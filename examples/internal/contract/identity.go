package contract

import (
	"encoding/json"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/app"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The policy of GET /items/{id}, as app.NewItems sets it.
const (
	itemsRate   = 20
	itemsPolicy = `"items";q=20;w=10`
)

var (
	itemsHeader = regexp.MustCompile(`^"items";r=(\d+);t=(\d+)$`)
	appHeader   = regexp.MustCompile(`^"app";r=(\d+);t=(\d+)$`)
)

// remaining returns r of the RateLimit header h must match, or -1.
func remaining(h string, re *regexp.Regexp) int {
	m := re.FindStringSubmatch(h)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// testItems checks that GET /items/{id} has one budget for every id: the
// route, never the path, names it.
func testItems(t *testing.T, c *client) {
	clients := []*client{c}
	testItemsAcross(t, clients)
}

// testItemsAcross spends the GET /items/{id} budget of one address through
// the given instances in turn, each request with an id of its own, and
// checks the counts go down as one.
func testItemsAcross(t *testing.T, clients []*client) {
	t.Helper()
	for i := 1; i <= itemsRate; i++ {
		c := clients[i%len(clients)]
		id := "item-" + strconv.Itoa(i)
		r := c.get(t, "/items/"+id, nil)
		r.wantJSON(t, http.StatusOK, `{"id":"`+id+`"}`)
		if got := r.Header.Get("RateLimit-Policy"); got != itemsPolicy {
			t.Fatalf("%s: RateLimit-Policy %q, want %q", r.req, got, itemsPolicy)
		}
		if got := remaining(r.Header.Get("RateLimit"), itemsHeader); got != itemsRate-i {
			t.Fatalf("%s: RateLimit %q, want r=%d: every id and every instance share one budget", r.req, r.Header.Get("RateLimit"), itemsRate-i)
		}
	}
	for i, c := range clients {
		r := c.get(t, "/items/fresh-"+strconv.Itoa(i), nil)
		wantProblem(t, r, http.StatusTooManyRequests)
	}
}

// testUnmatched checks that paths no route serves share one budget of the
// app-wide limiter: a client cannot mint a budget, or a Redis key, per
// path. (The app-wide limiter is a GCRA that refills a unit every 5 ms,
// so its remaining count is no exact witness; its Redis keys are.)
func testUnmatched(t *testing.T, c *client, srv *redistest.Server) {
	testUnmatchedAcross(t, []*client{c}, srv)
}

func testUnmatchedAcross(t *testing.T, clients []*client, srv *redistest.Server) {
	t.Helper()
	rdb := srv.Client()
	limiterKeys := func() int {
		n := 0
		for k := range allKeys(t, rdb, srv.Prefix) {
			if strings.Contains(k, "rl:"+app.AppLimitName+":") {
				n++
			}
		}
		return n
	}
	before := limiterKeys()
	for i := range 12 {
		c := clients[i%len(clients)]
		r := c.get(t, "/no-such-route-"+strconv.Itoa(i)+"/"+strconv.Itoa(i*7919), nil)
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", r.req, r.StatusCode)
		}
		if n := remaining(r.Header.Get("RateLimit"), appHeader); n < 0 {
			t.Fatalf("%s: RateLimit %q, want the app-wide policy's", r.req, r.Header.Get("RateLimit"))
		}
	}
	if grown := limiterKeys() - before; grown > 1 {
		t.Fatalf("12 requests to distinct unmatched paths made %d new rate-limit keys; want one shared budget", grown)
	}
}

// testGreeting checks GET /greeting, a page built from the session behind
// the shared cache with a handler that says max-age=30: guests and each
// user always see their own greeting, in the orders that used to break
// (guest then user, user then guest, user A then user B).
func testGreeting(t *testing.T, c *client) {
	testGreetingAcross(t, []*client{c})
}

func testGreetingAcross(t *testing.T, clients []*client) {
	t.Helper()
	pick := func(i int) *client { return clients[i%len(clients)] }
	greet := func(i int, b *browser, want string) {
		t.Helper()
		b.c = pick(i)
		r := b.do(t, http.MethodGet, "/greeting", "", "")
		r.wantJSON(t, http.StatusOK, `{"greeting":"`+want+`"}`)
		if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Cookie") {
			t.Errorf("%s: Vary %q; a page built from the session must say Vary: Cookie", r.req, r.Header.Values("Vary"))
		}
	}
	guest := &browser{c: pick(0)}
	alice := &browser{c: pick(0)}
	alice.login(t, "alice")
	bob := &browser{c: pick(1)}
	bob.login(t, "bob")
	greet(0, guest, "hello guest")
	greet(1, alice, "hello alice")
	greet(2, guest, "hello guest")
	greet(3, bob, "hello bob")
	greet(4, alice, "hello alice")
	greet(5, guest, "hello guest")
	greet(6, bob, "hello bob")
	// A guest with an analytics cookie is still a guest, served the guests'
	// entry.
	r := pick(7).get(t, "/greeting", http.Header{"Cookie": {"_ga=GA1.2.3"}})
	r.wantJSON(t, http.StatusOK, `{"greeting":"hello guest"}`)
}

// claimedOrders returns how many orders c's guard claimed, which is how
// many times its handler ran.
func claimedOrders(t *testing.T, c *client) float64 {
	t.Helper()
	return scrape(t, c).value(idemSeries("claimed"))
}

// decodeOrder returns the order of a 201 body.
func decodeOrder(t *testing.T, r *response) order {
	t.Helper()
	var o order
	if r.StatusCode != http.StatusCreated || json.Unmarshal(r.Body, &o) != nil {
		t.Fatalf("%s: %d %s, want 201 and an order", r.req, r.StatusCode, r.Body)
	}
	return o
}

func itoa(n int) string { return strconv.Itoa(n) }
