package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
)

// sessionApp is mounted as apps mount the two cores: the session
// middleware outside, the guard inside it. POST /login binds the session
// to the user X-Login names; POST /visit stores a value, so a guest gets a
// stored session; GET /scope answers the request's DefaultScope and
// session reference; POST /orders is guarded.
type sessionApp struct {
	h    http.Handler
	runs atomic.Int64
}

func newSessionApp(m *session.Manager, g *Guard) *sessionApp {
	app := &sessionApp{}
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := app.runs.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "order "+strconv.FormatInt(n, 10)+" of "+session.FromContext(r.Context()).User())
	})
	app.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.ServeHTTP(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.FromContext(r.Context())
			switch r.URL.Path {
			case "/login":
				s.Login(r.Header.Get("X-Login"))
				w.WriteHeader(http.StatusNoContent)
			case "/visit":
				_ = s.Put("cart", "book")
				w.WriteHeader(http.StatusNoContent)
			case "/scope":
				scope, err := g.DefaultScope(r)
				if err != nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
					return
				}
				_, _ = io.WriteString(w, scope+"|"+s.Ref())
			default:
				g.ServeHTTP(w, r, orders)
			}
		}))
	})
	return app
}

// browser is one client: an address and the session cookie it was given.
type browser struct {
	addr   string
	cookie string
}

func (app *sessionApp) do(t *testing.T, b *browser, method, path, key string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(`{"item":"book"}`))
	r.RemoteAddr = b.addr
	if b.cookie != "" {
		r.AddCookie(&http.Cookie{Name: "session", Value: b.cookie})
	}
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	app.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == "session" {
			b.cookie = c.Value
		}
	}
	return w
}

// login returns a browser at addr whose session is bound to user.
func (app *sessionApp) login(t *testing.T, addr, user string) *browser {
	t.Helper()
	b := &browser{addr: addr}
	if w := app.do(t, b, http.MethodPost, "/login", "", map[string]string{"X-Login": user}); w.Code != http.StatusNoContent || b.cookie == "" {
		t.Fatalf("login %s: %d %v", user, w.Code, w.Header())
	}
	return b
}

// guest returns a browser at addr with a stored session of no user.
func (app *sessionApp) guest(t *testing.T, addr string) *browser {
	t.Helper()
	b := &browser{addr: addr}
	if w := app.do(t, b, http.MethodPost, "/visit", "", nil); w.Code != http.StatusNoContent || b.cookie == "" {
		t.Fatalf("visit: %d %v", w.Code, w.Header())
	}
	return b
}

func newSessions(t *testing.T, srv *redistest.Server) *session.Manager {
	t.Helper()
	m, err := session.New(srv.Client(), session.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func wantOrder(t *testing.T, w *httptest.ResponseRecorder, body string, replayed bool) {
	t.Helper()
	if w.Code != http.StatusCreated || w.Body.String() != body || (w.Header().Get("Idempotent-Replayed") == "true") != replayed {
		t.Fatalf("got %d %q (replayed %q), want 201 %q (replayed %v)", w.Code, w.Body, w.Header().Get("Idempotent-Replayed"), body, replayed)
	}
}

// Two users behind one address, each with a session cookie, send the same
// key and body: each gets an order of their own, and each retry replays
// that user's own response. A user who retries from another address
// (Wi-Fi to mobile) gets the replay, not a second order.
func TestScopeFollowsSessionUser(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	app := newSessionApp(newSessions(t, srv), newGuard(t, srv, Options{}))
	alice := app.login(t, "192.0.2.1:1000", "alice")
	bob := app.login(t, "192.0.2.1:2000", "bob")

	wantOrder(t, app.do(t, alice, http.MethodPost, "/orders", "k", nil), "order 1 of alice", false)
	wantOrder(t, app.do(t, bob, http.MethodPost, "/orders", "k", nil), "order 2 of bob", false)
	wantOrder(t, app.do(t, alice, http.MethodPost, "/orders", "k", nil), "order 1 of alice", true)
	wantOrder(t, app.do(t, bob, http.MethodPost, "/orders", "k", nil), "order 2 of bob", true)

	alice.addr = "198.51.100.9:3000"
	wantOrder(t, app.do(t, alice, http.MethodPost, "/orders", "k", nil), "order 1 of alice", true)
	if n := app.runs.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2", n)
	}
}

// Guests with stored sessions are scoped by their session (a hash of its
// ID), so two guests behind one address never share a record; a client
// without a stored session falls back to its address.
func TestScopeGuestSession(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	app := newSessionApp(newSessions(t, srv), newGuard(t, srv, Options{}))
	g1 := app.guest(t, "192.0.2.1:1000")
	g2 := app.guest(t, "192.0.2.1:2000")

	scope, ref, _ := strings.Cut(app.do(t, g1, http.MethodGet, "/scope", "", nil).Body.String(), "|")
	if ref == "" || scope != "session\x00"+ref {
		t.Fatalf("guest scope %q, ref %q: want the session kind and the ref", scope, ref)
	}
	wantOrder(t, app.do(t, g1, http.MethodPost, "/orders", "k", nil), "order 1 of ", false)
	wantOrder(t, app.do(t, g2, http.MethodPost, "/orders", "k", nil), "order 2 of ", false)
	wantOrder(t, app.do(t, g1, http.MethodPost, "/orders", "k", nil), "order 1 of ", true)
	wantOrder(t, app.do(t, g2, http.MethodPost, "/orders", "k", nil), "order 2 of ", true)
	if n := app.runs.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2", n)
	}

	for _, b := range []*browser{
		{addr: "192.0.2.1:3000"},                          // no cookie
		{addr: "192.0.2.1:3000", cookie: "not-a-session"}, // names no session
	} {
		if got := app.do(t, b, http.MethodGet, "/scope", "", nil).Body.String(); got != "address\x00192.0.2.1|" {
			t.Fatalf("cookie %q: scope %q, want the address", b.cookie, got)
		}
	}
}

// The default scope is, in order: Principal, the session's user, a hash
// of Authorization, the guest session, the address. Principal and the
// session's user are one kind, a user name: a user's retry through an API
// token matches the request made with the session cookie.
func TestScopeOrder(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	tokens := map[string]string{"Bearer alice-token": "alice"}
	g := newGuard(t, srv, Options{Principal: func(r *http.Request) string {
		if u := r.Header.Get("X-User"); u != "" {
			return u
		}
		return tokens[r.Header.Get("Authorization")]
	}})
	app := newSessionApp(newSessions(t, srv), g)
	alice := app.login(t, "192.0.2.1:1000", "alice")
	guest := app.guest(t, "192.0.2.1:2000")
	auth := sha256.Sum256([]byte("Bearer other"))
	_, guestRef, _ := strings.Cut(app.do(t, guest, http.MethodGet, "/scope", "", nil).Body.String(), "|")
	for _, tc := range []struct {
		name   string
		b      *browser
		header map[string]string
		want   string
	}{
		{"principal over the session user", alice, map[string]string{"X-User": "carol", "Authorization": "Bearer other"}, "user\x00carol"},
		{"session user over Authorization", alice, map[string]string{"Authorization": "Bearer other"}, "user\x00alice"},
		{"Authorization over the guest session", guest, map[string]string{"Authorization": "Bearer other"}, "authorization\x00" + hex.EncodeToString(auth[:])},
		{"guest session over the address", guest, nil, "session\x00" + guestRef},
		{"address last", &browser{addr: "192.0.2.1:3000"}, nil, "address\x00192.0.2.1"},
	} {
		got, _, _ := strings.Cut(app.do(t, tc.b, http.MethodGet, "/scope", "", tc.header).Body.String(), "|")
		if got != tc.want {
			t.Errorf("%s: scope %q, want %q", tc.name, got, tc.want)
		}
	}

	wantOrder(t, app.do(t, alice, http.MethodPost, "/orders", "k", nil), "order 1 of alice", false)
	token := &browser{addr: "203.0.113.5:4000"}
	wantOrder(t, app.do(t, token, http.MethodPost, "/orders", "k", map[string]string{"Authorization": "Bearer alice-token"}), "order 1 of alice", true)
	if n := app.runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

// When the session cannot be loaded (its Redis is down), the guard refuses
// the request with 503 and never runs the handler: it does not fall back
// to the address, which would put every user behind it in one scope. (The
// session middleware then answers its own 503 in place of the guard's.)
func TestScopeSessionUnavailable(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	working := newSessionApp(newSessions(t, srv), newGuard(t, srv, Options{}))
	alice := working.login(t, "192.0.2.1:1000", "alice")

	down, err := session.New(redistest.Hung(t), session.Options{Settings: core.Settings{Timeout: 30 * time.Millisecond, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	var refused []*core.Rejection
	g := newGuard(t, srv, Options{Settings: core.Settings{OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
		refused = append(refused, rej)
		rej.Write(w)
	}}})
	app := newSessionApp(down, g)
	w := app.do(t, alice, http.MethodPost, "/orders", "k", nil)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	if n := app.runs.Load(); n != 0 {
		t.Fatalf("handler ran %d times", n)
	}
	if len(refused) != 1 || refused[0].Status != http.StatusServiceUnavailable || refused[0].Header.Get("Retry-After") != "1" ||
		!errors.Is(refused[0], session.ErrUnavailable) || !strings.HasPrefix(refused[0].Detail, "The session could not be loaded, so the request was not run") {
		t.Fatalf("the guard refused %v, want one 503 wrapping session.ErrUnavailable", refused)
	}
}
