package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testOptions returns the Options of a test's Manager on srv: its key
// prefix, a quiet logger and a timeout fit for -race on two cores with many
// requests at once.
func testOptions(srv *redistest.Server) Options {
	return Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second, Logger: quiet}}
}

// newManager returns a Manager on srv, with testOptions changed by edit.
func newManager(t *testing.T, srv *redistest.Server, edit ...func(*Options)) *Manager {
	t.Helper()
	opts := testOptions(srv)
	for _, e := range edit {
		e(&opts)
	}
	m, err := New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// downManager returns a Manager on a Redis that never answers, with a short
// timeout.
func downManager(t *testing.T, s core.Settings) *Manager {
	t.Helper()
	if s.Timeout == 0 {
		s.Timeout = 50 * time.Millisecond
	}
	if s.Logger == nil {
		s.Logger = quiet
	}
	m, err := New(redistest.Hung(t), Options{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// app is a test handler: /put?k=v sets a value, /get?k= reads one,
// /login?user= logs in, /renew, /logout, /incr?k=.
func app(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		q := r.URL.Query()
		switch r.URL.Path {
		case "/put":
			for k, v := range q {
				if err := s.Put(k, v[0]); err != nil {
					t.Error(err)
				}
			}
		case "/get":
			fmt.Fprint(w, s.GetString(q.Get("k")))
		case "/getput": // read k, then set it to v
			old := s.GetString(q.Get("k"))
			if err := s.Put(q.Get("k"), q.Get("v")); err != nil {
				t.Error(err)
			}
			fmt.Fprint(w, old)
		case "/login":
			s.Login(q.Get("user"))
		case "/renew":
			s.Renew()
		case "/logout":
			s.Destroy()
		case "/incr":
			n, err := s.Incr(r.Context(), q.Get("k"), 1)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprint(w, n)
		case "/user":
			fmt.Fprint(w, s.User())
		}
	})
}

// client sends requests to h with one cookie, as a browser would.
type client struct {
	t      *testing.T
	m      *Manager
	h      http.Handler
	cookie string // the session cookie's value; "" for none
	ua     string
	ctx    context.Context // the request context; nil for none
}

func (c *client) do(target string) *httptest.ResponseRecorder {
	c.t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if c.ctx != nil {
		r = r.WithContext(c.ctx)
	}
	r.RemoteAddr = "192.0.2.1:1"
	if c.ua != "" {
		r.Header.Set("User-Agent", c.ua)
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: c.m.cookie.Name, Value: c.cookie})
	}
	w := httptest.NewRecorder()
	c.m.ServeHTTP(w, r, c.h)
	for _, ck := range w.Result().Cookies() {
		if ck.Name == c.m.cookie.Name {
			if ck.MaxAge < 0 {
				c.cookie = ""
			} else {
				c.cookie = ck.Value
			}
		}
	}
	return w
}

func TestValuesAndTypedGetters(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	when := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)
	type cart struct{ Items []string }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		switch r.URL.Path {
		case "/set":
			_ = s.Put("s", "text")
			_ = s.Put("i", 42)
			_ = s.Put("b", true)
			_ = s.Put("t", when)
			_ = s.Put("raw", []byte{0, 1, 2})
			_ = s.Put("cart", cart{Items: []string{"a", "b"}})
			_ = s.Put("flash", "saved!")
		case "/check":
			var c cart
			ok, err := s.GetJSON("cart", &c)
			if s.GetString("s") != "text" || s.GetInt("i") != 42 || !s.GetBool("b") || !s.GetTime("t").Equal(when) ||
				string(s.GetBytes("raw")) != "\x00\x01\x02" || !ok || err != nil || strings.Join(c.Items, ",") != "a,b" {
				t.Errorf("values read back wrong: %v", s.Keys())
			}
			if s.PopString("flash") != "saved!" {
				t.Error("flash missing")
			}
			s.Remove("s")
		case "/after":
			if s.Exists("flash") || s.Exists("s") || !s.Exists("i") {
				t.Errorf("after pop/remove: %v", s.Keys())
			}
			s.Clear()
		case "/empty":
			if len(s.Keys()) != 0 {
				t.Errorf("after clear: %v", s.Keys())
			}
		}
	})
	c := &client{t: t, m: m, h: h}
	for _, p := range []string{"/set", "/check", "/after", "/empty"} {
		if w := c.do(p); w.Code != 200 {
			t.Fatalf("%s: %d", p, w.Code)
		}
	}
}

// An ID the server does not know is never adopted, and login changes the
// ID and kills the old one.
func TestFixation(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	attacker := newID()
	c := &client{t: t, m: m, h: app(t), cookie: attacker}
	w := c.do("/put?cart=1")
	if c.cookie == "" || c.cookie == attacker {
		t.Fatalf("the client-chosen ID was adopted (cookie %q)", c.cookie)
	}
	if w.Header().Get("Set-Cookie") == "" {
		t.Fatal("no cookie for the new session")
	}
	anon := c.cookie
	c.do("/login?user=alice")
	if c.cookie == anon || !strings.Contains(c.cookie, ".") {
		t.Fatalf("login did not renew the ID: %q", c.cookie)
	}
	if got := c.do("/get?k=cart").Body.String(); got != "1" {
		t.Fatalf("login lost the data: %q", got)
	}
	// The pre-login ID is dead. For a minute it is known as renewed: a
	// request still carrying it (sent before the browser got the new
	// cookie) gets no session, and no Set-Cookie that would replace the
	// new cookie; after that it is cleared like any unknown ID.
	old := &client{t: t, m: m, h: app(t), cookie: anon}
	w = old.do("/get?k=cart")
	if got := w.Body.String(); got != "" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("the pre-login ID: %q, Set-Cookie %q; want no session and no cookie change", got, w.Header().Get("Set-Cookie"))
	}
	if mr := srv.Miniredis(); mr != nil {
		mr.FastForward(renewedMarkerTTL + time.Second)
		w = old.do("/get?k=cart")
		if got := w.Body.String(); got != "" || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("the pre-login ID after the marker expired: %q, Set-Cookie %q; want it cleared", got, w.Header().Get("Set-Cookie"))
		}
	}
	// A well-formed but unknown cookie gets told to go away.
	stranger := &client{t: t, m: m, h: app(t), cookie: newID()}
	w = stranger.do("/get?k=x")
	if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("unknown cookie not cleared: %q", sc)
	}
	// Renew keeps the user and the data, and kills the previous ID.
	before := c.cookie
	c.do("/renew")
	if c.cookie == before || c.do("/user").Body.String() != "alice" || c.do("/get?k=cart").Body.String() != "1" {
		t.Fatalf("renew: cookie %q", c.cookie)
	}
	if got := (&client{t: t, m: m, h: app(t), cookie: before}).do("/user").Body.String(); got != "" {
		t.Fatalf("the renewed-away ID still works for %q", got)
	}
}

// 100 concurrent requests in one session, each setting its own key: all
// 100 keys are kept.
func TestConcurrentChangesAllKept(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/put?start=1")
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cc := &client{t: t, m: m, h: app(t), cookie: c.cookie}
			if w := cc.do(fmt.Sprintf("/put?k%d=%d", i, i)); w.Code != 200 {
				t.Errorf("request %d: %d", i, w.Code)
			}
		}(i)
	}
	wg.Wait()
	var keys []string
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { keys = FromContext(r.Context()).Keys() })
	(&client{t: t, m: m, h: check, cookie: c.cookie}).do("/")
	if len(keys) != 101 {
		t.Fatalf("%d keys kept, want 101 (start + 100): %v", len(keys), keys)
	}
	// and Incr is exact under concurrency
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&client{t: t, m: m, h: app(t), cookie: c.cookie}).do("/incr?k=n")
		}()
	}
	wg.Wait()
	if got := (&client{t: t, m: m, h: app(t), cookie: c.cookie}).do("/incr?k=n").Body.String(); got != "51" {
		t.Fatalf("after 50 concurrent increments and one more: %s", got)
	}
}

// A request in flight when the session is destroyed cannot bring it back.
func TestDestroyWhileInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=bob")
	c.do("/put?a=1")
	cookie := c.cookie
	loaded := make(chan struct{})
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		if s.User() != "bob" { // the handler sees the session alive
			t.Errorf("slow request: user %q", s.User())
		}
		close(loaded)
		<-release
		_ = s.Put("late", "write")
	})
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- (&client{t: t, m: m, h: slow, cookie: cookie}).do("/") }()
	<-loaded
	c.do("/logout")
	if c.cookie != "" {
		t.Fatal("logout did not clear the cookie")
	}
	close(release)
	w := <-done
	if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("the in-flight request did not learn the session was gone: %q", sc)
	}
	n, err := srv.Client().Exists(context.Background(), m.key(mustRef(t, cookie))).Result()
	if err != nil || n != 0 {
		t.Fatalf("the destroyed session came back (exists=%d, %v)", n, err)
	}
	if got := (&client{t: t, m: m, h: app(t), cookie: cookie}).do("/get?k=late").Body.String(); got != "" {
		t.Fatalf("late write visible: %q", got)
	}
}

func mustRef(t *testing.T, cookie string) ref {
	_, r, ok := parseCookie(cookie)
	if !ok {
		t.Fatalf("bad cookie %q", cookie)
	}
	return r
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// Idle and absolute expiry, on a controlled clock, and the cookie's exact
// attributes.
func TestExpiryAndCookie(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	m := newManager(t, srv, func(o *Options) {
		o.Clock = clk.Now
		o.IdleTimeout = 10 * time.Minute
		o.Lifetime = time.Hour
	})
	c := &client{t: t, m: m, h: app(t)}
	w := c.do("/put?a=1")
	if got := w.Header().Get("Set-Cookie"); got != "session="+c.cookie+"; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax" {
		t.Fatalf("cookie %q", got)
	}
	if w.Header().Get("Vary") != "Cookie" {
		t.Fatalf("Vary %q", w.Header().Get("Vary"))
	}
	// Activity every 9 minutes keeps it alive past the idle timeout...
	for i := 0; i < 5; i++ {
		clk.Add(9 * time.Minute)
		if got := c.do("/get?k=a").Body.String(); got != "1" {
			t.Fatalf("after %d idle periods under the limit: %q", i+1, got)
		}
	}
	// ...up to the absolute lifetime: at 45 min, 15 remain, so Max-Age is
	// the idle 600 s; at 54 min only 6 min remain.
	clk.Add(9 * time.Minute)
	w = c.do("/get?k=a")
	if got := w.Header().Get("Set-Cookie"); !strings.Contains(got, "Max-Age=360;") {
		t.Fatalf("Max-Age does not follow the absolute deadline: %q", got)
	}
	clk.Add(6 * time.Minute) // 60 min: the lifetime is over
	if got := c.do("/get?k=a").Body.String(); got != "" {
		t.Fatalf("alive past its lifetime: %q", got)
	}
	// Idle expiry.
	c = &client{t: t, m: m, h: app(t)}
	c.do("/put?a=2")
	clk.Add(10 * time.Minute)
	if got := c.do("/get?k=a").Body.String(); got != "" {
		t.Fatalf("alive after 10 idle minutes: %q", got)
	}

	// Other cookie settings.
	m2 := newManager(t, srv, func(o *Options) {
		o.Cookie = CookieOptions{HostPrefix: true, Partitioned: true, SameSite: http.SameSiteStrictMode}
	})
	c2 := &client{t: t, m: m2, h: app(t)}
	w = c2.do("/put?a=1")
	if got := w.Header().Get("Set-Cookie"); got != "__Host-session="+c2.cookie+"; Path=/; Max-Age=1800; HttpOnly; Secure; SameSite=Strict; Partitioned" {
		t.Fatalf("cookie %q", got)
	}
	m3 := newManager(t, srv, func(o *Options) { o.Cookie = CookieOptions{SessionOnly: true, Domain: "example.com"} })
	c3 := &client{t: t, m: m3, h: app(t)}
	w = c3.do("/put?a=1")
	if got := w.Header().Get("Set-Cookie"); got != "session="+c3.cookie+"; Path=/; Domain=example.com; HttpOnly; Secure; SameSite=Lax" {
		t.Fatalf("cookie %q", got)
	}
	// (New's refusal of cookie settings browsers would drop is in
	// TestNewRejectsInvalidOptions.)
}

// Log out everywhere: 20 sessions of one user, made through 4 instances,
// all die at once.
func TestRevokeAll(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var managers []*Manager
	for i := 0; i < 4; i++ {
		managers = append(managers, newManager(t, srv))
	}
	var clients []*client
	for i := 0; i < 20; i++ {
		c := &client{t: t, m: managers[i%4], h: app(t), ua: fmt.Sprintf("device-%d", i)}
		c.do("/login?user=carol")
		c.do(fmt.Sprintf("/put?n=%d", i))
		clients = append(clients, c)
	}
	other := &client{t: t, m: managers[0], h: app(t)}
	other.do("/login?user=dave")
	list, err := managers[1].ListSessions(context.Background(), "carol")
	if err != nil || len(list) != 20 {
		t.Fatalf("list: %d sessions, %v", len(list), err)
	}
	if list[0].UserAgent == "" || list[0].Addr != "192.0.2.1" || list[0].Ref == "" {
		t.Fatalf("metadata: %+v", list[0])
	}
	// Revoke one.
	if ok, err := managers[2].Revoke(context.Background(), "carol", list[0].Ref); !ok || err != nil {
		t.Fatalf("revoke one: %v %v", ok, err)
	}
	n, err := managers[3].RevokeAll(context.Background(), "carol")
	if err != nil || n != 19 {
		t.Fatalf("RevokeAll = %d, %v; want 19", n, err)
	}
	for i, c := range clients {
		if got := c.do("/user").Body.String(); got != "" {
			t.Fatalf("session %d survived as %q", i, got)
		}
	}
	if got := other.do("/user").Body.String(); got != "dave" {
		t.Fatalf("another user's session died: %q", got)
	}
	if list, _ := managers[0].ListSessions(context.Background(), "carol"); len(list) != 0 {
		t.Fatalf("%d sessions listed after RevokeAll", len(list))
	}
}

func TestMaxSessionsPerUser(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv, func(o *Options) { o.MaxSessionsPerUser = 3 })
	var cs []*client
	for i := 0; i < 5; i++ {
		c := &client{t: t, m: m, h: app(t)}
		c.do("/login?user=erin")
		cs = append(cs, c)
	}
	alive := 0
	for i, c := range cs {
		if c.do("/user").Body.String() == "erin" {
			alive++
			if i < 2 {
				t.Fatalf("session %d, among the oldest, survived the cap", i)
			}
		}
	}
	if alive != 3 {
		t.Fatalf("%d sessions alive, cap is 3", alive)
	}
}

// When Redis cannot answer, a request that uses its session gets 503 in
// place of its handler's response, and the stored session is untouched:
// nobody is logged out. A request whose handler never touches its session
// is served as if Redis were up, with no cookie change.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=frank")
	c.do("/put?a=1")
	for _, tc := range []struct {
		name   string
		client func(testing.TB) redis.UniversalClient
	}{{"refused", redistest.Refused}, {"hung", redistest.Hung}} {
		down, err := New(tc.client(t), Options{Settings: core.Settings{Timeout: 50 * time.Millisecond, Logger: quiet}})
		if err != nil {
			t.Fatal(err)
		}
		var ran atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran.Add(1)
			s := FromContext(r.Context())
			w.Header().Set("X-Handler", "yes")
			w.Header().Set("Cache-Control", "max-age=3600")
			switch r.URL.Path {
			case "/static": // never touches the session
			case "/read":
				fmt.Fprintf(w, "hello %q", s.User())
				return
			case "/load":
				if err := s.Load(r.Context()); err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("Load: %v", err)
					}
					http.Error(w, "no session", http.StatusInternalServerError)
					return
				}
			case "/put":
				_ = s.Put("b", "2")
			}
			fmt.Fprint(w, "static page")
		})
		for _, rc := range []struct {
			path   string
			status int
		}{{"/static", 200}, {"/read", 503}, {"/load", 503}, {"/put", 503}} {
			r := httptest.NewRequest(http.MethodGet, rc.path, nil)
			r.AddCookie(&http.Cookie{Name: "session", Value: c.cookie})
			w := httptest.NewRecorder()
			w.Header().Set("X-Outer", "kept")
			before := ran.Load()
			down.ServeHTTP(w, r, h)
			if w.Code != rc.status || ran.Load() != before+1 || w.Header().Get("Set-Cookie") != "" || w.Header().Get("X-Outer") != "kept" {
				t.Fatalf("%s %s: status %d (want %d), handler ran %d, header %v", tc.name, rc.path, w.Code, rc.status, ran.Load()-before, w.Header())
			}
			if rc.status == 200 {
				if w.Body.String() != "static page" || w.Header().Get("X-Handler") != "yes" || w.Header().Get("Vary") != "" {
					t.Fatalf("%s %s: %q %v", tc.name, rc.path, w.Body, w.Header())
				}
				continue
			}
			if w.Header().Get("Content-Type") != core.ProblemContentType || !strings.Contains(w.Body.String(), "Sessions are unavailable") ||
				w.Header().Get("X-Handler") != "" || w.Header().Get("Cache-Control") != "" {
				t.Fatalf("%s %s: the handler's response was not replaced: %q %v", tc.name, rc.path, w.Body, w.Header())
			}
		}
	}
	if got := c.do("/get?k=a").Body.String(); got != "1" || c.do("/user").Body.String() != "frank" {
		t.Fatalf("the session was harmed: %q", got)
	}
}

func TestRedisHoldsNoID(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	m := newManager(t, srv)
	c := &client{t: t, m: m, h: app(t)}
	c.do("/login?user=gina")
	id, _, _ := parseCookie(c.cookie)
	ctx := context.Background()
	var found []string
	iter := srv.Client().Scan(ctx, 0, srv.Prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		found = append(found, iter.Val())
		if strings.Contains(iter.Val(), id) {
			t.Fatalf("a key holds the session ID: %s", iter.Val())
		}
	}
	if len(found) == 0 && srv.Topology != redistest.Cluster {
		t.Fatal("no keys found: the test proved nothing")
	}
	for _, k := range found {
		if k == m.space.Tagged("secret", "") {
			continue // the one key without a TTL (see secret.go)
		}
		vals, _ := srv.Client().HGetAll(ctx, k).Result()
		for f, v := range vals {
			if strings.Contains(v, id) || strings.Contains(f, id) {
				t.Fatalf("%s holds the ID", k)
			}
		}
		if ttl := srv.Client().PTTL(ctx, k).Val(); ttl <= 0 {
			t.Fatalf("%s has no TTL", k)
		}
	}
}

// New fails up front for every option that cannot work, with an error
// that names the field and wraps core.ErrConfig.
func TestNewRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for _, tc := range []struct {
		field string // what the error must name
		opts  Options
	}{
		{"Settings.TrustedProxies", Options{Settings: core.Settings{TrustedProxies: []string{"10.0.0.0/8", "not-an-address"}}}},
		{"Settings.Secret", Options{Settings: core.Settings{Secret: []byte("too short")}}},
		{"Options.Lifetime", Options{Lifetime: -time.Hour}},
		{"Options.Lifetime", Options{Lifetime: time.Microsecond}},
		{"Options.IdleTimeout", Options{IdleTimeout: time.Microsecond}},
		{"Options.IdleTimeout", Options{Lifetime: time.Hour, IdleTimeout: 2 * time.Hour}},
		{"Options.IdleTimeout", Options{IdleTimeout: 25 * time.Hour}}, // over the default Lifetime
		{"Options.MaxSessionsPerUser", Options{MaxSessionsPerUser: -1}},
		{"Options.Cookie.Name", Options{Cookie: CookieOptions{Name: "my session"}}},
		{"Options.Cookie.Name", Options{Cookie: CookieOptions{Name: "__Host-sid", Domain: "example.com"}}},
		{"Options.Cookie.Name", Options{Cookie: CookieOptions{Name: "__secure-sid", Insecure: true}}},
		{"Options.Cookie.Domain", Options{Cookie: CookieOptions{Domain: "exa mple.com"}}},
		{"Options.Cookie.Path", Options{Cookie: CookieOptions{Path: "app"}}},
		{"Options.Cookie.Path", Options{Cookie: CookieOptions{Path: "/a;b"}}},
		{"Options.Cookie.HostPrefix", Options{Cookie: CookieOptions{HostPrefix: true, Domain: "example.com"}}},
		{"Options.Cookie.HostPrefix", Options{Cookie: CookieOptions{HostPrefix: true, Insecure: true}}},
		{"Options.Cookie.HostPrefix", Options{Cookie: CookieOptions{HostPrefix: true, Path: "/app"}}},
		{"Options.Cookie.HostPrefix", Options{Cookie: CookieOptions{HostPrefix: true, Name: "sid"}}},
		{"Options.Cookie.SameSite", Options{Cookie: CookieOptions{SameSite: http.SameSiteNoneMode, Insecure: true}}},
		{"Options.Cookie.SameSite", Options{Cookie: CookieOptions{SameSite: http.SameSite(9)}}},
		{"Options.Cookie.Partitioned", Options{Cookie: CookieOptions{Partitioned: true, Insecure: true}}},
	} {
		m, err := New(srv.Client(), tc.opts)
		if m != nil || !errors.Is(err, core.ErrConfig) || !strings.HasPrefix(err.Error(), "session: ") || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v) = %v, %v; want an error naming %s", tc.opts, m, err, tc.field)
		}
	}
	if _, err := New(nil, Options{}); !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), "nil Redis client") {
		t.Errorf("New(nil) = %v", err)
	}
	// Valid neighbours of the cases above.
	for _, opts := range []Options{
		{},
		{Lifetime: time.Millisecond, IdleTimeout: -1},
		{Lifetime: time.Hour, IdleTimeout: time.Hour},
		{Lifetime: time.Minute}, // shorter than the default idle timeout, which then never applies
		{Cookie: CookieOptions{HostPrefix: true, Name: "__Host-sid", Path: "/"}},
		{Cookie: CookieOptions{Name: "__Secure-sid", Domain: "example.com", Path: "/app"}},
		{Cookie: CookieOptions{SameSite: http.SameSiteNoneMode, Partitioned: true}},
		{Cookie: CookieOptions{SameSite: http.SameSiteDefaultMode, Insecure: true}},
	} {
		if _, err := New(srv.Client(), opts); err != nil {
			t.Errorf("New(%+v): %v", opts, err)
		}
	}
}

// Zero IdleTimeout means 30 minutes; a negative one disables idle expiry,
// leaving only Lifetime.
func TestIdleTimeoutDefaultAndDisabled(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	def := newManager(t, srv, func(o *Options) { o.Clock = clk.Now })
	c := &client{t: t, m: def, h: app(t)}
	if sc := c.do("/put?a=1").Header().Get("Set-Cookie"); !strings.Contains(sc, "; Max-Age=1800;") {
		t.Fatalf("default idle timeout: cookie %q, want Max-Age=1800", sc)
	}
	clk.Add(29 * time.Minute)
	if got := c.do("/get?k=a").Body.String(); got != "1" {
		t.Fatalf("dead after 29 idle minutes: %q", got)
	}
	clk.Add(30 * time.Minute)
	if got := c.do("/get?k=a").Body.String(); got != "" {
		t.Fatalf("alive after 30 idle minutes: %q", got)
	}

	off := newManager(t, srv, func(o *Options) {
		o.Clock = clk.Now
		o.Lifetime = 3 * time.Hour
		o.IdleTimeout = -1
	})
	c = &client{t: t, m: off, h: app(t)}
	if sc := c.do("/put?a=2").Header().Get("Set-Cookie"); !strings.Contains(sc, "; Max-Age=10800;") {
		t.Fatalf("no idle timeout: cookie %q, want Max-Age of the lifetime", sc)
	}
	clk.Add(2 * time.Hour)
	w := c.do("/get?k=a")
	if w.Body.String() != "2" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("after 2 idle hours: %q, cookie %q", w.Body, w.Header().Get("Set-Cookie"))
	}
	clk.Add(time.Hour)
	if got := c.do("/get?k=a").Body.String(); got != "" {
		t.Fatalf("alive past its lifetime: %q", got)
	}
}

// Settings.OnReject writes the 503 of a session that cannot be loaded, and
// of one that cannot be saved just before the response starts, in place of
// the handler's response; OnError sees each failure. Serve itself never
// rejects: the handler runs, and the writer replaces its response.
func TestOnRejectAndOnError(t *testing.T) {
	t.Parallel()
	var rejections []*core.Rejection
	var reported []error
	var mu sync.Mutex
	m := downManager(t, core.Settings{
		OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			mu.Lock()
			rejections = append(rejections, rej)
			mu.Unlock()
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(rej.Status)
			fmt.Fprint(w, "come back later")
		},
		OnError: func(ctx context.Context, err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		},
	})
	var ran atomic.Int64
	var getErr error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		s := FromContext(r.Context())
		if r.URL.Path == "/get" {
			_, getErr = s.Get("a", new(string))
		}
		_ = s.Put("a", "1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"saved":true}`))
	})

	// Loading fails when the handler reads: Get returns the error, and the
	// client gets the 503 through OnReject.
	r := httptest.NewRequest(http.MethodGet, "/get", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: newID()})
	w := httptest.NewRecorder()
	rej := m.Serve(w, r, h)
	if rej != nil || w.Code != 503 || w.Body.String() != "come back later" || ran.Load() != 1 || len(rejections) != 1 ||
		!errors.Is(getErr, ErrUnavailable) || !errors.Is(rejections[0], ErrUnavailable) || rejections[0].Detail != "Sessions are unavailable; try again shortly." {
		t.Fatalf("load failure: Serve = %v; %d %q, handler ran %d, %d rejections, Get error %v", rej, w.Code, w.Body, ran.Load(), len(rejections), getErr)
	}

	// Loading fails as the response starts (the handler only wrote a
	// value), and creating fails for a request without a cookie.
	for i, withCookie := range []bool{true, false} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if withCookie {
			r.AddCookie(&http.Cookie{Name: "session", Value: newID()})
		}
		w := httptest.NewRecorder()
		if rej := m.Serve(w, r, h); rej != nil {
			t.Fatalf("Serve returned %v", rej)
		}
		if w.Code != 503 || w.Body.String() != "come back later" || w.Header().Get("Content-Type") != "text/plain" ||
			ran.Load() != int64(i+2) || len(rejections) != i+2 || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("save failure (cookie %v): %d %q %v, handler ran %d, %d rejections", withCookie, w.Code, w.Body, w.Header(), ran.Load(), len(rejections))
		}
	}
	if len(reported) != 3 {
		t.Fatalf("OnError saw %d failures, want 3 (two loads, one create)", len(reported))
	}
	for _, err := range reported {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("OnError got %v, not wrapping ErrUnavailable", err)
		}
	}

	// Without OnReject, the failure is the default problem body.
	plain := downManager(t, core.Settings{})
	w = httptest.NewRecorder()
	plain.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil), h)
	if w.Code != 503 || w.Header().Get("Content-Type") != core.ProblemContentType || !strings.Contains(w.Body.String(), "Sessions are unavailable") {
		t.Fatalf("default save failure: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// Settings.TrustedProxies decides the address recorded with a session.
func TestTrustedProxiesAddress(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for _, tc := range []struct {
		trusted []string
		want    string
	}{
		{nil, "192.0.2.1"},
		{[]string{"192.0.2.0/24"}, "198.51.100.7"},
	} {
		m := newManager(t, srv, func(o *Options) { o.TrustedProxies = tc.trusted })
		user := fmt.Sprintf("proxied-%d", len(tc.trusted))
		r := httptest.NewRequest(http.MethodGet, "/login?user="+user, nil)
		r.RemoteAddr = "192.0.2.1:1"
		r.Header.Set("X-Forwarded-For", "198.51.100.7")
		m.ServeHTTP(httptest.NewRecorder(), r, app(t))
		list, err := m.ListSessions(context.Background(), user)
		if err != nil || len(list) != 1 || list[0].Addr != tc.want {
			t.Fatalf("trusting %v: %+v, %v; want address %s", tc.trusted, list, err, tc.want)
		}
	}
}
