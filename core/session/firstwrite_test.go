package session

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// A request whose first use of its session is a change (Put, Remove,
// RememberMe, SetDeadline) costs one round trip, for a guest's session and
// for one bound to a user: save.lua makes the checks a load would, with
// no load. Its change is stored exactly.
func TestFirstUseWriteIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	rt := redistest.CountRoundTrips(rdb)
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{now: start}
	opts := testOptions(srv)
	opts.Clock, opts.IdleTimeout, opts.Lifetime = clk.Now, 10*time.Minute, time.Hour
	m, err := New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	warm(t, rdb)
	h := choiceApp(t, clk)
	for _, user := range []string{"", "ann"} {
		c := &client{t: t, m: m, h: h}
		c.do("/put?a=1&b=2")
		if user != "" {
			c.do("/login?user=" + user)
		}
		ref := mustRef(t, c.cookie)
		for _, tc := range []struct {
			target string
			check  func(stored map[string]string) bool
		}{
			{"/put?a=3", func(v map[string]string) bool { return v["v:a"] == `"3"` }},
			{"/put?c=4&remember=0", func(v map[string]string) bool { return v["v:c"] == `"4"` && v[fRemember] == "0" }},
		} {
			before := rt.Load()
			if w := c.do(tc.target); w.Code != http.StatusOK {
				t.Fatalf("user %q, %s: status %d", user, tc.target, w.Code)
			}
			if got := rt.Load() - before; got != 1 {
				t.Fatalf("user %q, %s: %d round trips, want 1", user, tc.target, got)
			}
			stored, err := rdb.HGetAll(context.Background(), m.key(ref)).Result()
			if err != nil || !tc.check(stored) {
				t.Fatalf("user %q, %s: stored %v, %v", user, tc.target, stored, err)
			}
		}
		// Remove and SetDeadline, first and alone.
		rm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { FromContext(r.Context()).Remove("b") })
		dl := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			FromContext(r.Context()).SetDeadline(start.Add(30 * time.Minute))
		})
		for name, h := range map[string]http.Handler{"Remove": rm, "SetDeadline": dl} {
			before := rt.Load()
			(&client{t: t, m: m, h: h, cookie: c.cookie}).do("/")
			if got := rt.Load() - before; got != 1 {
				t.Fatalf("user %q, %s first: %d round trips, want 1", user, name, got)
			}
		}
		stored, err := rdb.HGetAll(context.Background(), m.key(ref)).Result()
		if err != nil || stored["v:b"] != "" || stored[fDeadline] != "1800001800000" || stored["v:a"] != `"3"` || stored["v:c"] != `"4"` {
			t.Fatalf("user %q: after Remove and SetDeadline: %v, %v", user, stored, err)
		}
		if ttl := rdb.PTTL(context.Background(), m.key(ref)).Val(); ttl <= 9*time.Minute || ttl > 10*time.Minute {
			t.Fatalf("user %q: TTL %v, want the idle timeout's 10 minutes", user, ttl)
		}
		if got := c.do("/get?k=a").Body.String(); got != "3" {
			t.Fatalf("user %q: read back %q", user, got)
		}
	}
}

// A change made without a load goes to the session only while it lives,
// as after a load: a cookie naming a session that has ended (logged out,
// revoked, idle, past its deadline, renewed, bound under another secret)
// never gets its ended session written or brought back; its values go to a
// new session, as a guest's, except after a renewal, where nothing is
// stored and no cookie sent.
func TestFirstUseWriteNeverWritesAnEndedSession(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	ctx := context.Background()
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{now: start}
	secret := func(b byte) func(*Options) {
		return func(o *Options) { o.Secret = []byte(strings.Repeat(string(rune(b)), core.MinSecretBytes)) }
	}
	timed := func(o *Options) { o.Clock, o.IdleTimeout, o.Lifetime = clk.Now, 10*time.Minute, time.Hour }
	m := newManager(t, srv, timed, secret('1'))
	other := newManager(t, srv, timed, secret('2')) // another secret: user sessions of m are dead to it
	putOnly := func(mgr *Manager, cookie string) *http.Response {
		t.Helper()
		w := (&client{t: t, m: mgr, h: app(t), cookie: cookie}).do("/put?late=1")
		if w.Code != http.StatusOK {
			t.Fatalf("Put: status %d", w.Code)
		}
		return w.Result()
	}
	stored := func(cookie string) map[string]string {
		t.Helper()
		v, err := rdb.HGetAll(ctx, m.key(mustRef(t, cookie))).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	newSessionFor := func(what string, resp *http.Response, dead string) {
		t.Helper()
		var got []*http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "session" {
				got = append(got, c)
			}
		}
		if len(got) != 1 || got[0].MaxAge <= 0 || got[0].Value == dead {
			t.Fatalf("%s: Set-Cookie %q, want a new session's cookie", what, resp.Header.Values("Set-Cookie"))
		}
		if v := stored(got[0].Value); v["v:late"] != `"1"` || v[fUser] != "" {
			t.Fatalf("%s: the new session holds %v", what, v)
		}
		if n := rdb.Exists(ctx, m.key(mustRef(t, dead))).Val(); n != 0 {
			t.Fatalf("%s: the ended session is in Redis again: %v", what, stored(dead))
		}
	}
	login := func(user string) string {
		c := &client{t: t, m: m, h: app(t)}
		c.do("/put?a=1")
		c.do("/login?user=" + user)
		return c.cookie
	}

	clk.now = start
	cookie := login("ann")
	(&client{t: t, m: m, h: app(t), cookie: cookie}).do("/logout")
	newSessionFor("logged out", putOnly(m, cookie), cookie)

	cookie = login("bob")
	if n, err := m.RevokeAll(ctx, "bob"); n != 1 || err != nil {
		t.Fatalf("RevokeAll: %d, %v", n, err)
	}
	newSessionFor("revoked", putOnly(m, cookie), cookie)

	cookie = login("cid")
	clk.now = start.Add(10 * time.Minute) // idle
	newSessionFor("idle", putOnly(m, cookie), cookie)

	clk.now = start
	cookie = login("dee")
	for i := 1; i <= 6; i++ { // active, every 9 minutes, up to its Lifetime
		clk.now = start.Add(time.Duration(i) * 9 * time.Minute)
		for _, ck := range putOnly(m, cookie).Cookies() {
			if ck.Value != cookie {
				t.Fatalf("active at %d min: Set-Cookie %q; the session was lost", i*9, ck)
			}
		}
	}
	clk.now = start.Add(time.Hour)
	newSessionFor("past its Lifetime", putOnly(m, cookie), cookie)

	// Destroyed, and revoked, while the request ran: its handler Puts
	// after, without having loaded.
	clk.now = start
	for _, end := range []func(cookie string){
		func(cookie string) { (&client{t: t, m: m, h: app(t), cookie: cookie}).do("/logout") },
		func(string) { _, _ = m.RevokeAll(ctx, "eve") },
	} {
		cookie = login("eve")
		finish := slowRequest(t, m, cookie, func(*Session) {}, func(s *Session) { _ = s.Put("late", "1") })
		end(cookie)
		newSessionFor("ended in flight", finish().Result(), cookie)
	}

	// Renewed: nothing stored, no cookie; the renewed session does not get
	// the change.
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=fay")
	pre := c.cookie
	c.do("/renew")
	if resp := putOnly(m, pre); len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("renewed: Set-Cookie %q, want none", resp.Header.Values("Set-Cookie"))
	}
	if got := c.do("/get?k=late").Body.String(); got != "" || rdb.Exists(ctx, m.key(mustRef(t, pre))).Val() != 0 {
		t.Fatalf("renewed: the change reached a session (%q)", got)
	}

	// Bound under another secret: the hash is left exactly as it was.
	cookie = login("gus")
	before := stored(cookie)
	clk.Add(time.Minute) // a write would move its last-seen time
	resp := putOnly(other, cookie)
	got := resp.Cookies()
	if len(got) != 1 || got[0].MaxAge <= 0 || got[0].Value == cookie {
		t.Fatalf("another secret: Set-Cookie %q, want a new session's", resp.Header.Values("Set-Cookie"))
	}
	if after := stored(cookie); !maps.Equal(after, before) {
		t.Fatalf("another secret: the session bound under the first was written:\n%v\nwas\n%v", after, before)
	}

	// A deadline that has passed, set first: the session ends, the cookie
	// is cleared, and no session is made.
	cookie = login("hal")
	w := (&client{t: t, m: m, h: choiceApp(t, clk), cookie: cookie}).do("/put?x=1&for=0s")
	wantCleared(t, w, "a passed deadline, first use")
	if rdb.Exists(ctx, m.key(mustRef(t, cookie))).Val() != 0 {
		t.Fatal("a passed deadline, first use: the session is still in Redis")
	}
}

// Incr on a session bound under another secret adds nothing and slides
// nothing: load.lua checks the secret's fingerprint before it writes, as
// the load's user-tag check would after. (It used to add, then find the
// session dead.)
func TestIncrLeavesSessionOfAnotherSecret(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	ctx := context.Background()
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	secret := func(b byte) func(*Options) {
		return func(o *Options) {
			o.Secret = []byte(strings.Repeat(string(rune(b)), core.MinSecretBytes))
			o.Clock = clk.Now
		}
	}
	m1, m2 := newManager(t, srv, secret('1')), newManager(t, srv, secret('2'))
	c := &client{t: t, m: m1, h: app(t)}
	c.do("/login?user=ivy")
	c.do("/incr?k=n")
	key := m1.key(mustRef(t, c.cookie))
	before := rdb.HGetAll(ctx, key).Val()
	clk.Add(time.Minute)
	w := (&client{t: t, m: m2, h: app(t), cookie: c.cookie}).do("/incr?k=n")
	if w.Body.String() != "1" {
		t.Fatalf("Incr under another secret: %q, want 1 (a new session's first)", w.Body)
	}
	if after := rdb.HGetAll(ctx, key).Val(); !maps.Equal(after, before) || after["v:n"] != "1" {
		t.Fatalf("the session bound under the first secret was written:\n%v\nwas\n%v", after, before)
	}
}

// The cookie of a session changed without a load follows the same rules as
// after a load: re-sent when the idle expiry moved into a new tenth of
// IdleTimeout, when RememberMe changes its kind, or when SetDeadline moves
// its Max-Age; not otherwise.
func TestFirstUseWriteCookie(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	start := time.Unix(1_800_000_000, 0) // on a whole minute
	clk := &clock{now: start}
	m := newManager(t, srv, func(o *Options) {
		o.Clock, o.IdleTimeout, o.Lifetime = clk.Now, 10*time.Minute, time.Hour
	})
	c := &client{t: t, m: m, h: choiceApp(t, clk)}
	wantSetCookie(t, c.do("/put?a=1"), "new", persistentCookie(c.cookie, 600))
	id := c.cookie
	for _, step := range []struct {
		at     time.Duration
		target string
		want   string
	}{
		{10 * time.Second, "/put?a=2", ""},                            // same tenth
		{70 * time.Second, "/put?a=3", persistentCookie(id, 600)},     // a new tenth
		{80 * time.Second, "/put?a=4", ""},                            // same tenth again
		{90 * time.Second, "/put?a=5&remember=1", ""},                 // the kind it has
		{100 * time.Second, "/put?a=6&remember=0", browserCookie(id)}, // a new kind
		{110 * time.Second, "/put?a=7&remember=0", ""},                // unchanged
		{200 * time.Second, "/put?a=8", ""},                           // a browser-session cookie has no Max-Age to keep up
		{210 * time.Second, "/put?a=9&remember=1", persistentCookie(id, 600)},
		{220 * time.Second, "/put?a=10&for=5m", persistentCookie(id, 300)}, // the deadline moves Max-Age
		{230 * time.Second, "/put?a=11&for=20m", ""},                       // a later one changes nothing
	} {
		clk.now = start.Add(step.at)
		wantSetCookie(t, c.do(step.target), step.target, step.want)
	}
	if got := c.do("/get?k=a").Body.String(); got != "11" || c.cookie != id {
		t.Fatalf("a = %q, cookie %q; want 11 under the same ID", got, c.cookie)
	}
}

// A session bound to a user before fingerprints were kept (no "_k") is not
// ended by them: a read and an Incr work as before, and a change made
// without a load is written after a load has checked its user tag (3
// round trips, once), which records the fingerprint, so the next one
// costs 1.
func TestSessionBoundWithoutFingerprint(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	rt := redistest.CountRoundTrips(rdb)
	m, err := New(rdb, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	warm(t, rdb)
	ctx := context.Background()
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=jo")
	key := m.key(mustRef(t, c.cookie))
	legacy := func() {
		t.Helper()
		if n, err := rdb.HDel(ctx, key, fKey).Result(); n != 1 || err != nil {
			t.Fatalf("HDEL _k: %d, %v", n, err)
		}
	}
	step := func(target, body string, trips int64) {
		t.Helper()
		before := rt.Load()
		w := c.do(target)
		if got := rt.Load() - before; w.Code != http.StatusOK || w.Body.String() != body || got != trips || strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("%s: status %d, body %q, %d round trips (want %q, %d), Set-Cookie %q", target, w.Code, w.Body, got, body, trips, w.Header().Get("Set-Cookie"))
		}
	}
	legacy()
	step("/user", "jo", 1)
	step("/incr?k=n", "1", 1)
	step("/put?a=1", "", 3) // save.lua declines, load, save with the fingerprint
	if !rdb.HExists(ctx, key, fKey).Val() {
		t.Fatal("the fingerprint was not recorded")
	}
	step("/put?a=2", "", 1)
	legacy()
	step("/getput?k=a&v=3", "2", 2) // load, then save, which records it too
	if !rdb.HExists(ctx, key, fKey).Val() {
		t.Fatal("the fingerprint was not recorded after a load")
	}
	step("/get?k=a", "3", 1)
}
