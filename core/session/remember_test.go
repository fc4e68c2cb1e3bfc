package session

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

// choiceApp is a test handler on clk: /login?user=, /renew, /put?k=v,
// /get?k=, /user, /deadline (writes Deadline in ms), /logout; on any path,
// remember=1|0 calls RememberMe and for=<duration> calls SetDeadline with
// clk's now plus the duration, before the path's own action.
func choiceApp(t *testing.T, clk *clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		q := r.URL.Query()
		if v := q.Get("remember"); v != "" {
			s.RememberMe(v == "1")
		}
		if v := q.Get("for"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Error(err)
			}
			s.SetDeadline(clk.Now().Add(d))
		}
		switch r.URL.Path {
		case "/login":
			s.Login(q.Get("user"))
		case "/renew":
			s.Renew()
		case "/logout":
			s.Destroy()
		case "/put":
			for k, v := range q {
				if k != "remember" && k != "for" {
					_ = s.Put(k, v[0])
				}
			}
		case "/get":
			fmt.Fprint(w, s.GetString(q.Get("k")))
		case "/user":
			fmt.Fprint(w, s.User())
		case "/deadline":
			fmt.Fprint(w, s.Deadline().UnixMilli())
		}
	})
}

// setCookies returns the Set-Cookie fields of w.
func setCookies(w *httptest.ResponseRecorder) []string { return w.Header().Values("Set-Cookie") }

// persistentCookie and browserCookie are the exact Set-Cookie fields of a
// session whose cookie value is v: with Max-Age maxAge, and without.
func persistentCookie(v string, maxAge int) string {
	return fmt.Sprintf("session=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Lax", v, maxAge)
}

func browserCookie(v string) string {
	return "session=" + v + "; Path=/; HttpOnly; Secure; SameSite=Lax"
}

// wantSetCookie fails unless w sets exactly want (nothing when want is "").
func wantSetCookie(t *testing.T, w *httptest.ResponseRecorder, what, want string) {
	t.Helper()
	got := setCookies(w)
	if want == "" {
		if len(got) != 0 {
			t.Fatalf("%s: Set-Cookie %q, want none", what, got)
		}
		return
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("%s: Set-Cookie %q, want %q", what, got, want)
	}
}

// RememberMe chooses, per session, a persistent cookie (Max-Age) or a
// browser-session cookie (none); every later cookie of the session keeps
// the choice, across renewals, while the server enforces IdleTimeout and
// Lifetime either way.
func TestRememberMe(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	start := time.Unix(1_800_000_000, 0) // on a whole minute
	clk := &clock{now: start}
	m := newManager(t, srv, func(o *Options) {
		o.Clock = clk.Now
		o.IdleTimeout = 10 * time.Minute
		o.Lifetime = time.Hour
	})
	h := choiceApp(t, clk)

	// Remembered: the login's cookie and its later re-send carry Max-Age.
	yes := &client{t: t, m: m, h: h}
	wantSetCookie(t, yes.do("/login?user=ann&remember=1"), "remembered login", persistentCookie(yes.cookie, 600))
	clk.now = start.Add(70 * time.Second) // the idle expiry moved by over a tenth
	wantSetCookie(t, yes.do("/user"), "remembered, idle expiry moved", persistentCookie(yes.cookie, 600))

	// Not remembered: no Max-Age, ever; the cookie is not re-sent when the
	// idle expiry moves, with or without a change, and a renewal's new
	// cookie has none either.
	clk.now = start
	no := &client{t: t, m: m, h: h}
	wantSetCookie(t, no.do("/login?user=bob&remember=0"), "not remembered login", browserCookie(no.cookie))
	for _, at := range []time.Duration{10 * time.Second, 70 * time.Second, 80 * time.Second, 130 * time.Second} {
		clk.now = start.Add(at)
		w := no.do("/user")
		if w.Body.String() != "bob" {
			t.Fatalf("not remembered at %v: user %q", at, w.Body)
		}
		wantSetCookie(t, w, fmt.Sprintf("not remembered at %v", at), "")
	}
	clk.now = start.Add(200 * time.Second)
	wantSetCookie(t, no.do("/put?a=1"), "not remembered, a change as the idle expiry moved", "")
	before := no.cookie
	clk.now = start.Add(270 * time.Second)
	w := no.do("/renew")
	if no.cookie == before {
		t.Fatal("renew did not change the ID")
	}
	wantSetCookie(t, w, "not remembered, renewed", browserCookie(no.cookie))
	// A Login keeps the choice unless its request makes one.
	wantSetCookie(t, no.do("/login?user=bob"), "not remembered, logged in again", browserCookie(no.cookie))
	if got := no.do("/get?k=a").Body.String(); got != "1" {
		t.Fatalf("values lost across renewals: %q", got)
	}
	// The server still ends it after IdleTimeout.
	clk.now = start.Add(270*time.Second + 10*time.Minute)
	w = no.do("/user")
	if w.Body.String() != "" {
		t.Fatalf("a browser-session cookie's session outlived IdleTimeout as %q", w.Body)
	}
	wantCleared(t, w, "not remembered, idle")

	// ...and at the end of its Lifetime, however active.
	clk.now = start
	active := &client{t: t, m: m, h: h}
	active.do("/login?user=cid&remember=0")
	for i := 1; i <= 6; i++ {
		clk.now = start.Add(time.Duration(i) * 9 * time.Minute)
		if got := active.do("/user").Body.String(); got != "cid" {
			t.Fatalf("not remembered, active, at %d min: %q", i*9, got)
		}
	}
	clk.now = start.Add(time.Hour)
	if got := active.do("/user").Body.String(); got != "" {
		t.Fatalf("a browser-session cookie's session outlived its Lifetime as %q", got)
	}

	// Changing the choice on a live session re-sends the same cookie,
	// changed in kind only; making the same choice again writes nothing.
	clk.now = start
	sw := &client{t: t, m: m, h: h}
	sw.do("/login?user=dee&remember=0")
	id := sw.cookie
	wantSetCookie(t, sw.do("/user?remember=1"), "switched to remembered", persistentCookie(id, 600))
	wantSetCookie(t, sw.do("/user?remember=1"), "remembered again", "")
	wantSetCookie(t, sw.do("/user?remember=0"), "switched back", browserCookie(id))
	wantSetCookie(t, sw.do("/put?b=2&remember=0"), "not remembered again, with a change", "")
	if sw.cookie != id {
		t.Fatal("RememberMe changed the ID")
	}
	// Without a login, on a new guest session too.
	guest := &client{t: t, m: m, h: h}
	wantSetCookie(t, guest.do("/put?a=1&remember=0"), "a guest's new session, not remembered", browserCookie(guest.cookie))

	// The choice is in the session's hash, the only trace of it.
	if v, err := srv.Client().HGet(context.Background(), m.key(mustRef(t, sw.cookie)), fRemember).Result(); err != nil || v != "0" {
		t.Fatalf("stored choice %q, %v; want \"0\"", v, err)
	}
}

// With Options.Cookie.SessionOnly, a session whose app says nothing gets a
// browser-session cookie, and RememberMe(true) a persistent one, kept
// across renewals and re-sent as the idle expiry moves.
func TestRememberMeOverSessionOnly(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{now: start}
	m := newManager(t, srv, func(o *Options) {
		o.Clock = clk.Now
		o.IdleTimeout = 10 * time.Minute
		o.Lifetime = time.Hour
		o.Cookie.SessionOnly = true
	})
	h := choiceApp(t, clk)
	def := &client{t: t, m: m, h: h}
	wantSetCookie(t, def.do("/login?user=ann"), "SessionOnly, no choice", browserCookie(def.cookie))
	yes := &client{t: t, m: m, h: h}
	wantSetCookie(t, yes.do("/login?user=bob&remember=1"), "SessionOnly, remembered", persistentCookie(yes.cookie, 600))
	clk.now = start.Add(70 * time.Second)
	wantSetCookie(t, def.do("/user"), "SessionOnly, no choice, idle expiry moved", "")
	wantSetCookie(t, yes.do("/user"), "SessionOnly, remembered, idle expiry moved", persistentCookie(yes.cookie, 600))
	wantSetCookie(t, yes.do("/renew"), "SessionOnly, remembered, renewed", persistentCookie(yes.cookie, 600))
	wantSetCookie(t, yes.do("/login?user=bob"), "SessionOnly, remembered, logged in again", persistentCookie(yes.cookie, 600))
	wantSetCookie(t, yes.do("/login?user=bob&remember=0"), "SessionOnly, forgotten at login", browserCookie(yes.cookie))
}

// SetDeadline brings the session's end forward, never back: Deadline,
// ListSessions, the Redis TTL and the cookie's Max-Age follow it, and a
// load after it finds no session and clears the cookie.
func TestSetDeadline(t *testing.T) {
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
	ctx := context.Background()
	h := choiceApp(t, clk)
	pttl := func(c *client) time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, m.key(mustRef(t, c.cookie))).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	deadline := func(c *client) time.Time {
		t.Helper()
		ms, err := strconv.ParseInt(c.do("/deadline").Body.String(), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return time.UnixMilli(ms)
	}
	roundTrips := func(c *client, target string) (*httptest.ResponseRecorder, int64) {
		t.Helper()
		before := rt.Load()
		w := c.do(target)
		return w, rt.Load() - before
	}

	c := &client{t: t, m: m, h: h}
	wantSetCookie(t, c.do("/login?user=ann"), "login", persistentCookie(c.cookie, 600))
	if got := deadline(c); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("Deadline %v, want the Lifetime's end %v", got, start.Add(time.Hour))
	}
	clk.now = start.Add(time.Minute)
	w, n := roundTrips(c, "/deadline?for=5m") // ends at start+6m
	if n != 2 || w.Body.String() != strconv.FormatInt(start.Add(6*time.Minute).UnixMilli(), 10) {
		t.Fatalf("SetDeadline: %d round trips (want 2: load, save), Deadline %s", n, w.Body)
	}
	wantSetCookie(t, w, "deadline in 5 minutes", persistentCookie(c.cookie, 300))
	if got := pttl(c); got <= 290*time.Second || got > 300*time.Second {
		t.Fatalf("Redis TTL %v, want 5 minutes", got)
	}
	if got := deadline(c); !got.Equal(start.Add(6 * time.Minute)) {
		t.Fatalf("Deadline in the next request %v, want %v", got, start.Add(6*time.Minute))
	}
	list, err := m.ListSessions(ctx, "ann")
	if err != nil || len(list) != 1 || !list[0].Deadline.Equal(start.Add(6*time.Minute)) {
		t.Fatalf("ListSessions: %+v, %v; want the deadline %v", list, err, start.Add(6*time.Minute))
	}

	// A later deadline, within the Lifetime or beyond it, changes nothing.
	for _, d := range []string{"10m", "2h"} {
		w, n := roundTrips(c, "/deadline?for="+d)
		if n != 1 || w.Body.String() != strconv.FormatInt(start.Add(6*time.Minute).UnixMilli(), 10) {
			t.Fatalf("SetDeadline(now+%s): %d round trips (want 1: the load), Deadline %s", d, n, w.Body)
		}
		wantSetCookie(t, w, "a later deadline", "")
	}

	// The idle expiry's re-send and a renewal keep the deadline's Max-Age.
	clk.now = start.Add(2 * time.Minute)
	wantSetCookie(t, c.do("/user"), "idle expiry moved", persistentCookie(c.cookie, 240))
	wantSetCookie(t, c.do("/renew"), "renewed", persistentCookie(c.cookie, 240))
	if got := deadline(c); !got.Equal(start.Add(6 * time.Minute)) {
		t.Fatalf("Deadline after Renew %v, want %v", got, start.Add(6*time.Minute))
	}
	if got := pttl(c); got <= 230*time.Second || got > 240*time.Second {
		t.Fatalf("Redis TTL after Renew %v, want 4 minutes", got)
	}

	// At the deadline, the session is gone and its cookie cleared.
	clk.now = start.Add(6 * time.Minute)
	w = c.do("/user")
	if w.Body.String() != "" {
		t.Fatalf("alive at its deadline as %q", w.Body)
	}
	wantCleared(t, w, "at the deadline")

	// The Redis TTL follows it alone, without the clock moving.
	if mr := srv.Miniredis(); mr != nil {
		clk.now = start
		c := &client{t: t, m: m, h: h}
		c.do("/login?user=ann&for=5m")
		mr.FastForward(5*time.Minute - time.Millisecond)
		if !mr.Exists(m.key(mustRef(t, c.cookie))) {
			t.Fatal("gone before its deadline's TTL")
		}
		mr.FastForward(time.Millisecond)
		w := c.do("/user")
		if w.Body.String() != "" {
			t.Fatalf("alive after its deadline's TTL as %q", w.Body)
		}
		wantCleared(t, w, "after the deadline's TTL")
	}

	// With Login in one request: the new session's deadline. A later
	// Login starts a new Lifetime.
	clk.now = start
	c = &client{t: t, m: m, h: h}
	w, n = roundTrips(c, "/login?user=root&for=3m")
	if n != 1 {
		t.Fatalf("a guest's Login with SetDeadline: %d round trips, want 1 (create)", n)
	}
	wantSetCookie(t, w, "login with a deadline", persistentCookie(c.cookie, 180))
	if got := deadline(c); !got.Equal(start.Add(3 * time.Minute)) {
		t.Fatalf("Deadline after Login with SetDeadline %v", got)
	}
	clk.now = start.Add(time.Minute)
	wantSetCookie(t, c.do("/login?user=root"), "logged in again", persistentCookie(c.cookie, 600))
	if got := deadline(c); !got.Equal(start.Add(time.Minute + time.Hour)) {
		t.Fatalf("Deadline after a new Login %v, want a new Lifetime", got)
	}

	// A guest's new session.
	clk.now = start
	g := &client{t: t, m: m, h: h}
	wantSetCookie(t, g.do("/put?a=1&for=90s"), "a guest's session with a deadline", persistentCookie(g.cookie, 90))

	// Not remembered: no cookie to re-send, but the server ends it.
	nr := &client{t: t, m: m, h: h}
	nr.do("/login?user=bea&remember=0")
	wantSetCookie(t, nr.do("/user?for=2m"), "not remembered, with a deadline", "")
	if got := pttl(nr); got <= 110*time.Second || got > 120*time.Second {
		t.Fatalf("not remembered: Redis TTL %v, want 2 minutes", got)
	}
	clk.now = start.Add(2 * time.Minute)
	if got := nr.do("/user").Body.String(); got != "" {
		t.Fatalf("not remembered: alive at its deadline as %q", got)
	}

	// A deadline that has passed ends the session in the response that
	// sets it, as Destroy would; SetDeadline(now) too.
	for _, d := range []string{"0s", "-1s"} {
		clk.now = start
		p := &client{t: t, m: m, h: h}
		p.do("/login?user=cal")
		cookie := p.cookie
		w := p.do("/user?for=" + d)
		if w.Body.String() != "cal" {
			t.Fatalf("for=%s: the handler saw %q", d, w.Body)
		}
		wantCleared(t, w, "a deadline that has passed")
		if n, err := rdb.Exists(ctx, m.key(mustRef(t, cookie))).Result(); err != nil || n != 0 {
			t.Fatalf("for=%s: the session is still in Redis (%d, %v)", d, n, err)
		}
		if got := (&client{t: t, m: m, h: h, cookie: cookie}).do("/user").Body.String(); got != "" {
			t.Fatalf("for=%s: alive after as %q", d, got)
		}
		// With Login: no session is made, and the old one is gone.
		p = &client{t: t, m: m, h: h}
		p.do("/login?user=cal")
		cookie = p.cookie
		wantCleared(t, p.do("/login?user=cal&for="+d), "a Login with a deadline that has passed")
		if got := (&client{t: t, m: m, h: h, cookie: cookie}).do("/user").Body.String(); got != "" {
			t.Fatalf("for=%s: the session before Login is alive as %q", d, got)
		}
		if list, err := m.ListSessions(ctx, "cal"); err != nil || len(list) != 0 {
			t.Fatalf("for=%s: %d sessions listed, %v", d, len(list), err)
		}
	}
}

// SetDeadline and RememberMe called after the response started: the
// deadline is still written (the cookie can no longer follow, but the
// server ends the session); the choice, which would disagree with the
// cookie, is ignored.
func TestChoicesAfterTheResponseStarted(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{now: start}
	m := newManager(t, srv, func(o *Options) { o.Clock = clk.Now; o.IdleTimeout = 10 * time.Minute; o.Lifetime = time.Hour })
	c := &client{t: t, m: m, h: choiceApp(t, clk)}
	c.do("/login?user=ann")
	late := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		_, _ = w.Write([]byte("started"))
		s.SetDeadline(clk.Now().Add(5 * time.Minute))
		s.RememberMe(false)
	})
	wantSetCookie(t, (&client{t: t, m: m, h: late, cookie: c.cookie}).do("/"), "late choices", "")
	if got := c.do("/deadline").Body.String(); got != strconv.FormatInt(start.Add(5*time.Minute).UnixMilli(), 10) {
		t.Fatalf("late SetDeadline: Deadline %s, want %d", got, start.Add(5*time.Minute).UnixMilli())
	}
	wantSetCookie(t, c.do("/renew"), "renewed after a late RememberMe", persistentCookie(c.cookie, 300))
}

// A SetDeadline in one request and changes in others, at once: all kept.
func TestSetDeadlineConcurrentWithPut(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	start := time.Unix(1_800_000_000, 0)
	clk := &clock{now: start}
	m := newManager(t, srv, func(o *Options) { o.Clock = clk.Now; o.IdleTimeout = 10 * time.Minute; o.Lifetime = time.Hour })
	h := choiceApp(t, clk)
	c := &client{t: t, m: m, h: h}
	c.do("/login?user=ann")
	until := start.Add(20 * time.Minute)

	// Interleaved: one request loads, another saves a value, then the
	// first sets the deadline; and the other way round.
	finish := slowRequest(t, m, c.cookie, func(s *Session) { _ = s.Load(context.Background()) }, func(s *Session) { s.SetDeadline(until) })
	c.do("/put?a=1")
	if w := finish(); w.Code != http.StatusOK {
		t.Fatalf("slow SetDeadline: %d", w.Code)
	}
	finish = slowRequest(t, m, c.cookie, func(s *Session) { _ = s.Load(context.Background()) }, func(s *Session) { _ = s.Put("b", "2") })
	c.do("/user?for=15m")
	if w := finish(); w.Code != http.StatusOK {
		t.Fatalf("slow Put: %d", w.Code)
	}
	if a, b, d := c.do("/get?k=a").Body.String(), c.do("/get?k=b").Body.String(), c.do("/deadline").Body.String(); a != "1" || b != "2" || d != strconv.FormatInt(start.Add(15*time.Minute).UnixMilli(), 10) {
		t.Fatalf("a=%q b=%q deadline %s; want 1, 2, %d", a, b, d, start.Add(15*time.Minute).UnixMilli())
	}

	// 50 requests each put a value while 10 set deadlines and 10 choose a
	// browser-session cookie: every value is kept, the earliest deadline
	// wins, and the choice is stored.
	var wg sync.WaitGroup
	for i := range 70 {
		wg.Go(func() {
			cc := &client{t: t, m: m, h: h, cookie: c.cookie}
			var target string
			switch {
			case i < 50:
				target = fmt.Sprintf("/put?k%d=%d", i, i)
			case i < 60:
				target = fmt.Sprintf("/user?for=%dm", i-45) // 5m to 14m
			default:
				target = "/user?remember=0"
			}
			if w := cc.do(target); w.Code != http.StatusOK {
				t.Errorf("%s: %d", target, w.Code)
			}
		})
	}
	wg.Wait()
	var keys []string
	var dl time.Time
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		keys, dl = s.Keys(), s.Deadline()
	})
	(&client{t: t, m: m, h: check, cookie: c.cookie}).do("/")
	if len(keys) != 52 || !dl.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("%d keys (want 52: a, b and 50), deadline %v (want %v)", len(keys), dl, start.Add(5*time.Minute))
	}
	wantSetCookie(t, c.do("/renew"), "renewed after the concurrent choice", browserCookie(c.cookie))
}
