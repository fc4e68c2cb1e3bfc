package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// slowRequest starts a request carrying cookie whose handler runs before,
// waits, then runs after. It returns once before has run; finish lets the
// handler go on and returns the response.
func slowRequest(t *testing.T, m *Manager, cookie string, before, after func(s *Session)) (finish func() *httptest.ResponseRecorder) {
	t.Helper()
	started := make(chan struct{})
	release := make(chan struct{})
	done := make(chan *httptest.ResponseRecorder, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		before(s)
		close(started)
		<-release
		after(s)
	})
	go func() {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: m.cookie.Name, Value: cookie})
		w := httptest.NewRecorder()
		m.ServeHTTP(w, r, h)
		done <- w
	}()
	<-started
	return func() *httptest.ResponseRecorder {
		close(release)
		return <-done
	}
}

// sessionCookies returns the Set-Cookie fields of w for the session cookie.
func sessionCookies(w *httptest.ResponseRecorder, name string) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// wantCleared fails unless w clears the session cookie, and only that.
func wantCleared(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	cs := sessionCookies(w, "session")
	if len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Fatalf("%s: Set-Cookie %q, want the cookie cleared (Max-Age=0)", what, w.Header().Values("Set-Cookie"))
	}
}

// Log out everywhere while a request of one of the user's sessions is in
// flight: its Renew does not bring the session back, under a new ID or
// otherwise; its cookie is cleared and the user has no session.
func TestRenewAfterRevokeAllInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=carol")
	c.do("/put?cart=1")
	finish := slowRequest(t, m, c.cookie,
		func(s *Session) {
			if s.User() != "carol" {
				t.Errorf("in flight: user %q", s.User())
			}
		},
		func(s *Session) { s.Renew() })
	if n, err := m.RevokeAll(context.Background(), "carol"); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	w := finish()
	wantCleared(t, w, "Renew after RevokeAll")
	if list, err := m.ListSessions(context.Background(), "carol"); len(list) != 0 || err != nil {
		t.Fatalf("carol has %d sessions after RevokeAll and a late Renew (%v)", len(list), err)
	}
	if got := c.do("/user").Body.String(); got != "" {
		t.Fatalf("the revoked cookie logs in as %q", got)
	}
}

// A session evicted by MaxSessionsPerUser while a request of it is in
// flight stays evicted: the late Renew neither revives it nor evicts the
// newer session in its place.
func TestRenewAfterCapEvictionInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv, func(o *Options) { o.MaxSessionsPerUser = 1 })
	old := &client{t: t, m: m, h: app(t)}
	old.do("/login?user=erin")
	finish := slowRequest(t, m, old.cookie,
		func(s *Session) {
			if s.User() != "erin" {
				t.Errorf("in flight: user %q", s.User())
			}
		},
		func(s *Session) { s.Renew() })
	newer := &client{t: t, m: m, h: app(t)}
	newer.do("/login?user=erin") // evicts old's session
	w := finish()
	wantCleared(t, w, "Renew after eviction")
	list, err := m.ListSessions(context.Background(), "erin")
	if err != nil || len(list) != 1 {
		t.Fatalf("erin has %d sessions (%v), want 1: the newer one", len(list), err)
	}
	if got := newer.do("/user").Body.String(); got != "erin" {
		t.Fatalf("the newer session was ended by the late Renew: %q", got)
	}
	if got := old.do("/user").Body.String(); got != "" {
		t.Fatalf("the evicted cookie logs in as %q", got)
	}
}

// Login on a request whose session was revoked while it ran creates a
// session for the user given to Login, and only for that user, without the
// dead session's values.
func TestLoginAfterRevokeInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=carol")
	c.do("/put?cart=1")
	finish := slowRequest(t, m, c.cookie,
		func(s *Session) {
			if s.GetString("cart") != "1" {
				t.Errorf("in flight: cart %q", s.GetString("cart"))
			}
		},
		func(s *Session) {
			_ = s.Put("greeting", "hi")
			s.Login("dave")
		})
	if n, err := m.RevokeAll(context.Background(), "carol"); n != 1 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	w := finish()
	cs := sessionCookies(w, "session")
	if len(cs) != 1 || cs[0].MaxAge <= 0 || cs[0].Value == "" {
		t.Fatalf("Login: Set-Cookie %q, want a new session's cookie", w.Header().Values("Set-Cookie"))
	}
	if list, _ := m.ListSessions(context.Background(), "carol"); len(list) != 0 {
		t.Fatalf("carol has %d sessions after RevokeAll", len(list))
	}
	if list, _ := m.ListSessions(context.Background(), "dave"); len(list) != 1 {
		t.Fatalf("dave has %d sessions, want 1", len(list))
	}
	d := &client{t: t, m: m, h: app(t), cookie: cs[0].Value}
	if u, cart, greet := d.do("/user").Body.String(), d.do("/get?k=cart").Body.String(), d.do("/get?k=greeting").Body.String(); u != "dave" || cart != "" || greet != "hi" {
		t.Fatalf("the new session: user %q, cart %q, greeting %q; want dave, none, hi", u, cart, greet)
	}
}

// A response sent in parallel with a renewal does not re-send, nor clear,
// the cookie: the browser keeps the renewed one, whichever response reaches
// it last. A request carrying the pre-renewal ID afterwards gets no session
// (no grace period: that would reopen fixation) and no cookie change.
func TestParallelResponseKeepsRenewedCookie(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=alice")
	c.do("/put?cart=1")
	pre := c.cookie
	reader := slowRequest(t, m, pre,
		func(s *Session) { _ = s.GetString("cart") },
		func(s *Session) {})
	writer := slowRequest(t, m, pre,
		func(s *Session) { _ = s.GetString("cart") },
		func(s *Session) { _ = s.Put("late", "1") })
	renewer := slowRequest(t, m, pre,
		func(s *Session) { _ = s.GetString("cart") },
		func(s *Session) { s.Renew() })
	w := c.do("/renew")
	if c.cookie == pre || len(sessionCookies(w, "session")) != 1 {
		t.Fatalf("renew: cookie %q", c.cookie)
	}
	for name, finish := range map[string]func() *httptest.ResponseRecorder{"reader": reader, "writer": writer, "renewer": renewer} {
		if w := finish(); len(w.Header().Values("Set-Cookie")) != 0 {
			t.Errorf("%s in flight during the renewal: Set-Cookie %q, want none", name, w.Header().Values("Set-Cookie"))
		}
	}
	late := &client{t: t, m: m, h: app(t), cookie: pre}
	w = late.do("/user")
	if w.Body.String() != "" || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("the pre-renewal ID after the renewal: user %q, Set-Cookie %q; want no session, no cookie change", w.Body, w.Header().Values("Set-Cookie"))
	}
	w = late.do("/put?x=1") // its changes make no session either
	if len(w.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("a change on the pre-renewal ID: Set-Cookie %q", w.Header().Values("Set-Cookie"))
	}
	if u, cart, x := c.do("/user").Body.String(), c.do("/get?k=cart").Body.String(), c.do("/get?k=x").Body.String(); u != "alice" || cart != "1" || x != "" {
		t.Fatalf("the renewed session: user %q, cart %q, x %q", u, cart, x)
	}
	if list, _ := m.ListSessions(context.Background(), "alice"); len(list) != 1 {
		t.Fatalf("alice has %d sessions, want 1: the renewed one", len(list))
	}
}

// The user tag that starts a bound session's cookie is keyed by the secret:
// not the unsalted hash of the user name that anyone could compute, and
// different under another secret. Managers sharing the secret agree.
func TestUserTagKeyedBySecret(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	secret := func(b byte) func(*Options) {
		return func(o *Options) { o.Secret = []byte(strings.Repeat(string(rune('a'+b)), core.MinSecretBytes)) }
	}
	tagOf := func(m *Manager, user string) string {
		c := &client{t: t, m: m, h: app(t)}
		c.do("/login?user=" + user)
		tag, _, ok := strings.Cut(c.cookie, ".")
		if !ok || len(tag) != 16 {
			t.Fatalf("cookie %q has no user tag", c.cookie)
		}
		return tag
	}
	sum := sha256.Sum256([]byte("user\x00alice"))
	unsalted := base64.RawURLEncoding.EncodeToString(sum[:12])
	a1 := tagOf(newManager(t, srv, secret(0)), "alice")
	a2 := tagOf(newManager(t, srv, secret(0)), "alice")
	b := tagOf(newManager(t, srv, secret(1)), "alice")
	if a1 == unsalted || b == unsalted {
		t.Fatalf("the tag is the unsalted hash of the user name: %q", unsalted)
	}
	if a1 != a2 || a1 == b {
		t.Fatalf("tags: %q and %q under one secret, %q under another", a1, a2, b)
	}
	if tagOf(newManager(t, srv, secret(0)), "bob") == a1 {
		t.Fatal("two users share a tag")
	}
}

// Without Settings.Secret, the secret is created once in Redis and shared:
// two instances on one Redis derive the same tags, so RevokeAll on one ends
// the sessions made on the other.
func TestSecretSharedThroughRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m1, m2 := newManager(t, srv), newManager(t, srv)
	c1 := &client{t: t, m: m1, h: app(t)}
	c1.do("/login?user=zoe")
	c2 := &client{t: t, m: m2, h: app(t)}
	c2.do("/login?user=zoe")
	t1, _, _ := strings.Cut(c1.cookie, ".")
	t2, _, _ := strings.Cut(c2.cookie, ".")
	if t1 != t2 {
		t.Fatalf("two instances tag zoe %q and %q", t1, t2)
	}
	sum := sha256.Sum256([]byte("user\x00zoe"))
	if t1 == base64.RawURLEncoding.EncodeToString(sum[:12]) {
		t.Fatal("the tag is the unsalted hash of the user name")
	}
	if n, err := m2.RevokeAll(context.Background(), "zoe"); n != 2 || err != nil {
		t.Fatalf("RevokeAll on the second instance = %d, %v; want both sessions", n, err)
	}
	if u := c1.do("/user").Body.String(); u != "" {
		t.Fatalf("the session made on the first instance survived as %q", u)
	}
}
