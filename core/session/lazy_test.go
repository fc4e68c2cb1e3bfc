package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/redistest"
)

// warm loads every script of the package on rdb and opens its connection,
// so round trips counted afterwards are the requests' own: no connection
// handshake, no EVAL after a NOSCRIPT.
func warm(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	for _, sc := range []*script.Script{loadScript, saveScript, createScript, takeScript, destroyScript, revokeAllScript, listScript, incrScript, secretScript} {
		if err := sc.Load(context.Background(), rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A request that never touches its session costs no Redis call; one that
// reads it costs exactly one, and a change one more, as before. New calls
// no Redis at all.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	rt := redistest.CountRoundTrips(rdb)
	m, err := New(rdb, testOptions(srv)) // no Settings.Secret: kept in Redis
	if err != nil {
		t.Fatal(err)
	}
	if n := rt.Load(); n != 0 {
		t.Fatalf("New made %d Redis calls", n)
	}
	warm(t, rdb)
	c := &client{t: t, m: m, h: app(t)}
	step := func(path string, want int64) *httptest.ResponseRecorder {
		t.Helper()
		before := rt.Load()
		w := c.do(path)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", path, w.Code)
		}
		if got := rt.Load() - before; got != want {
			t.Fatalf("%s: %d round trips, want %d", path, got, want)
		}
		return w
	}
	step("/static", 0)                                     // a guest's request that never touches the session
	step("/put?a=1", 1)                                    // create
	step("/static", 0)                                     // a session cookie, never touched
	step("/login?user=ann", 3)                             // the secret (once per instance), take, create
	step("/login?user=ann", 2)                             // take, create: no load
	step("/get?k=a", 1)                                    // load
	step("/put?b=2", 1)                                    // saved without a load: save.lua checks the session
	step("/getput?k=b&v=3", 2)                             // load, then save
	step("/incr?k=n", 1)                                   // load and add, one script
	if w := step("/incr?k=n", 1); w.Body.String() != "2" { // and again
		t.Fatalf("n = %q, want 2", w.Body)
	}
	step("/static", 0) // still nothing
	step("/logout", 1) // destroy, no load

	// Many goroutines of one handler reading at once load it once.
	c.do("/login?user=ann")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if s.User() != "ann" {
					t.Error("a goroutine saw no user")
				}
			})
		}
		wg.Wait()
	})
	before := rt.Load()
	(&client{t: t, m: m, h: h, cookie: c.cookie}).do("/")
	if got := rt.Load() - before; got != 1 {
		t.Fatalf("20 concurrent reads: %d round trips, want 1", got)
	}
}

// A request that never touches its session sets no cookie and no Vary,
// whatever cookie it carried; one that does says Vary: Cookie.
func TestUntouchedSessionLeavesResponseAlone(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/put?a=1")
	for _, cookie := range []string{"", c.cookie, newID(), "not a session cookie"} {
		w := (&client{t: t, m: m, h: app(t), cookie: cookie}).do("/static")
		if len(w.Header()) != 0 {
			t.Fatalf("cookie %q: an untouched session changed the header: %v", cookie, w.Header())
		}
	}
	// Used: a malformed or unknown cookie is cleared, and the response
	// varies on the cookie, a guest's too.
	for _, cookie := range []string{newID(), "not a session cookie"} {
		w := (&client{t: t, m: m, h: app(t), cookie: cookie}).do("/get?k=a")
		if !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") || w.Header().Get("Vary") != "Cookie" {
			t.Fatalf("cookie %q: %v", cookie, w.Header())
		}
	}
	w := (&client{t: t, m: m, h: app(t)}).do("/get?k=a")
	if w.Header().Get("Vary") != "Cookie" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("a guest's read: %v", w.Header())
	}
}

// The cookie of a live session is sent again only when its Max-Age must
// move forward: when a request moves the idle expiry into a new tenth of
// IdleTimeout. Never with SessionOnly or without idle expiry.
func TestUnchangedCookieNotResent(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	start := time.Unix(1_800_000_000, 0) // on a whole minute
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want []bool // whether the cookie is sent at 10 s, 70 s, 80 s, 130 s
	}{
		{"sliding", func(*Options) {}, []bool{false, true, false, true}},
		{"SessionOnly", func(o *Options) { o.Cookie.SessionOnly = true }, []bool{false, false, false, false}},
		{"no idle expiry", func(o *Options) { o.IdleTimeout = -1 }, []bool{false, false, false, false}},
	} {
		clk := &clock{now: start}
		m := newManager(t, srv, func(o *Options) {
			o.Clock = clk.Now
			o.IdleTimeout = 10 * time.Minute
			o.Lifetime = time.Hour
			tc.edit(o)
		})
		c := &client{t: t, m: m, h: app(t)}
		if w := c.do("/put?a=1"); len(w.Header().Values("Set-Cookie")) != 1 {
			t.Fatalf("%s: no cookie for the new session", tc.name)
		}
		for i, at := range []time.Duration{10 * time.Second, 70 * time.Second, 80 * time.Second, 130 * time.Second} {
			clk.now = start.Add(at)
			w := c.do("/get?k=a")
			sent := w.Header().Values("Set-Cookie")
			if w.Body.String() != "1" || (len(sent) == 1) != tc.want[i] || len(sent) > 1 {
				t.Fatalf("%s at %v: %q, Set-Cookie %q; want sent=%v", tc.name, at, w.Body, sent, tc.want[i])
			}
			if tc.want[i] && sent[0] != "session="+c.cookie+"; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax" {
				t.Fatalf("%s at %v: Set-Cookie %q", tc.name, at, sent[0])
			}
		}
		// A change does not re-send it either.
		clk.now = start.Add(140 * time.Second)
		if w := c.do("/put?b=2"); tc.name == "sliding" && len(w.Header().Values("Set-Cookie")) != 0 {
			t.Fatalf("%s: a change re-sent the cookie: %q", tc.name, w.Header().Values("Set-Cookie"))
		}
	}
}

// Changes made before the first read are merged over what the store holds.
func TestChangesBeforeLoadMerge(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	rt := redistest.CountRoundTrips(rdb)
	m, err := New(rdb, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	warm(t, rdb)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/put?a=1&b=2&c=3")
	var keys []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		_ = s.Put("a", "x")
		s.Remove("b")
		s.Remove("missing")
		keys = s.Keys()
		fmt.Fprint(w, s.GetString("a"))
	})
	if w := (&client{t: t, m: m, h: h, cookie: c.cookie}).do("/"); w.Body.String() != "x" || strings.Join(keys, ",") != "a,c" {
		t.Fatalf("before the load: a=%q, keys %v", w.Body, keys)
	}
	if a, b, cc := c.do("/get?k=a").Body.String(), c.do("/get?k=b").Body.String(), c.do("/get?k=c").Body.String(); a != "x" || b != "" || cc != "3" {
		t.Fatalf("stored: a=%q b=%q c=%q", a, b, cc)
	}
	// Removing a value the session does not hold writes nothing.
	rm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { FromContext(r.Context()).Remove("missing") })
	before := rt.Load()
	(&client{t: t, m: m, h: rm, cookie: c.cookie}).do("/")
	if got := rt.Load() - before; got != 1 {
		t.Fatalf("removing a missing value: %d round trips, want 1 (the load)", got)
	}
}

// Incr on a value that is not an integer fails with ErrNotInteger and
// leaves the value and the session alone.
func TestIncrNotInteger(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/put?s=text")
	for _, loadFirst := range []bool{false, true} {
		var err error
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := FromContext(r.Context())
			if loadFirst {
				_ = s.Load(r.Context())
			}
			_, err = s.Incr(r.Context(), "s", 1)
		})
		w := (&client{t: t, m: m, h: h, cookie: c.cookie}).do("/")
		if w.Code != 200 || !errors.Is(err, ErrNotInteger) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("load first %v: status %d, Incr error %v", loadFirst, w.Code, err)
		}
	}
	if got := c.do("/get?k=s").Body.String(); got != "text" {
		t.Fatalf("the value became %q", got)
	}
}

// VaryKey names the cookie a request carried without calling Redis: ""
// for a guest, the same for the same cookie on every instance, different
// for different cookies, and neither the ID nor its Redis key.
func TestVaryKey(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	rt := redistest.CountRoundTrips(rdb)
	m1, err := New(rdb, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, srv, func(o *Options) { o.Secret = []byte(strings.Repeat("k", core.MinSecretBytes)) })
	varyKey := func(m *Manager, cookie string) string {
		var k string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { k = FromContext(r.Context()).VaryKey() })
		(&client{t: t, m: m, h: h, cookie: cookie}).do("/")
		return k
	}
	id := newID()
	bound := "AAAAAAAAAAAAAAAA." + newID()
	if varyKey(m1, "") != "" || varyKey(m1, "not a session cookie") != "" {
		t.Fatal("a guest has a VaryKey")
	}
	k := varyKey(m1, id)
	if len(k) != 43 || k != varyKey(m2, id) || k == varyKey(m1, newID()) || k == varyKey(m1, bound) || varyKey(m1, bound) != varyKey(m2, bound) {
		t.Fatalf("VaryKey %q", k)
	}
	if strings.Contains(k, id) || k == hashID(id) {
		t.Fatal("the VaryKey is the ID or its Redis key")
	}
	if n := rt.Load(); n != 0 {
		t.Fatalf("VaryKey made %d Redis calls", n)
	}
	// Asking for it marks the response as varying on the cookie.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = FromContext(r.Context()).VaryKey() })
	for _, cookie := range []string{"", id} {
		w := (&client{t: t, m: m1, h: h, cookie: cookie}).do("/")
		if w.Header().Get("Vary") != "Cookie" || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("cookie %q: %v", cookie, w.Header())
		}
	}
}

// Changing Settings.Secret ends the sessions bound to a user under the old
// one: their cookies are cleared, and the users log in again.
func TestSecretRotationEndsBoundSessions(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	withSecret := func(b byte) func(*Options) {
		return func(o *Options) { o.Secret = []byte(strings.Repeat(string(rune(b)), core.MinSecretBytes)) }
	}
	m1 := newManager(t, srv, withSecret('1'))
	c := &client{t: t, m: m1, h: app(t)}
	c.do("/login?user=ivy")
	m2 := newManager(t, srv, withSecret('2'))
	bound := &client{t: t, m: m2, h: app(t), cookie: c.cookie}
	if w := bound.do("/user"); w.Body.String() != "" || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("a session bound under the old secret: %q, %v", w.Body, w.Header())
	}
	// Sessions bound to nobody carry no tag, and live on.
	c2 := &client{t: t, m: m1, h: app(t)}
	c2.do("/put?cart=2")
	if got := (&client{t: t, m: m2, h: app(t), cookie: c2.cookie}).do("/get?k=cart").Body.String(); got != "2" {
		t.Fatalf("a guest session after the change: %q", got)
	}
	if n, err := m2.RevokeAll(context.Background(), "ivy"); n != 0 || err != nil {
		t.Fatalf("RevokeAll under the new secret = %d, %v", n, err)
	}
}

// The secret kept in Redis is fetched once, by one call, however many
// requests need it at once; a failed fetch is retried by the next request.
func TestSecretFetchedOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	rt := redistest.CountRoundTrips(rdb)
	m, err := New(rdb, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	warm(t, rdb)
	base := rt.Load()
	var wg sync.WaitGroup
	tags := make([]string, 30)
	for i := range tags {
		wg.Go(func() {
			tag, err := m.userTag(context.Background(), "ann")
			if err != nil {
				t.Error(err)
			}
			tags[i] = tag
		})
	}
	wg.Wait()
	if got := rt.Load() - base; got != 1 {
		t.Fatalf("30 concurrent first uses: %d round trips, want 1", got)
	}
	for _, tag := range tags {
		if tag != tags[0] {
			t.Fatalf("tags differ: %q", tags)
		}
	}
	ttl, err := rdb.PTTL(context.Background(), m.space.Tagged("secret", "")).Result()
	if err != nil || ttl != -1 {
		t.Fatalf("the secret's TTL: %v, %v; want none (-1)", ttl, err)
	}

	down, err := New(redistest.Refused(t), Options{Settings: core.Settings{Timeout: 50 * time.Millisecond, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := down.ListSessions(context.Background(), "ann"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("ListSessions without the secret: %v", err)
		}
	}
}

// An instance whose secret was lost from Redis puts it back when it next
// checks, so instances started afterwards agree with it; and it adopts the
// secret Redis holds when another instance made a new one first.
func TestSecretRecheck(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	ctx := context.Background()
	m := newManager(t, srv)
	key := m.space.Tagged("secret", "")
	tag, err := m.userTag(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	recheck := func() {
		t.Helper()
		src := m.secretSrc
		src.mu.Lock()
		src.fetched = time.Now().Add(-2 * secretRecheck)
		src.mu.Unlock()
		if _, err := m.userTag(ctx, "ann"); err != nil { // starts the check, answers from memory
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			src.mu.Lock()
			done := !src.checking && time.Since(src.fetched) < secretRecheck
			src.mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the background check did not finish in 10 s")
			}
		}
	}
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	recheck()
	if got, err := newManager(t, srv).userTag(ctx, "ann"); got != tag || err != nil {
		t.Fatalf("after the key was lost and put back, a new instance tags ann %q (%v), want %q", got, err, tag)
	}
	if err := rdb.Set(ctx, key, strings.Repeat("n", secretBytes), 0).Err(); err != nil {
		t.Fatal(err)
	}
	recheck()
	fresh, err := newManager(t, srv).userTag(ctx, "ann")
	if got, _ := m.userTag(ctx, "ann"); err != nil || got != fresh || got == tag {
		t.Fatalf("after another instance made a new secret: %q, a new instance %q (%v); the old tag %q", got, fresh, err, tag)
	}
}
