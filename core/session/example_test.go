package session_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/session"
)

// newRedis returns a client on a fresh in-process miniredis and a function
// that closes both.
func newRedis() (*redis.Client, func()) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	return rdb, func() { rdb.Close(); mr.Close() }
}

func ExampleManager_ServeHTTP() {
	rdb, done := newRedis()
	defer done()

	sessions, err := session.New(rdb, session.Options{})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if r.URL.Path == "/login" {
			s.Login("alice")
			return
		}
		n, err := s.Incr(r.Context(), "visits", 1)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%s visit %d", s.User(), n)
	})
	var cookie *http.Cookie
	get := func(path string) string {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		sessions.ServeHTTP(w, r, app)
		if c := w.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		return w.Body.String()
	}
	get("/login")
	fmt.Println(cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode, cookie.MaxAge)
	fmt.Println(get("/"))
	fmt.Println(get("/"))
	// Output:
	// true true true 1800
	// alice visit 1
	// alice visit 2
}

// The session is loaded by the first method that needs it, so a route that
// never touches it answers even while Redis is down; a route that uses it
// gets the middleware's 503, never a response built on an empty session.
func ExampleSession_Load() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()

	sessions, err := session.New(rdb, session.Options{
		Settings: core.Settings{Logger: slog.New(slog.DiscardHandler)}, // the outage below is expected
	})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		switch r.URL.Path {
		case "/about":
			fmt.Fprint(w, "about us") // never touches the session
		case "/login":
			s.Login("alice")
		default:
			if err := s.Load(r.Context()); err != nil {
				return // the middleware answers 503
			}
			fmt.Fprintf(w, "hello %s", s.User())
		}
	})
	var cookie *http.Cookie
	get := func(path string) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		sessions.ServeHTTP(w, r, app)
		if c := w.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		fmt.Printf("%s: %d %q, Set-Cookie: %d\n", path, w.Code, w.Body.String(), len(w.Result().Cookies()))
	}
	get("/login")
	get("/me")
	mr.Close() // Redis is gone
	get("/about")
	get("/me")
	// Output:
	// /login: 200 "", Set-Cookie: 1
	// /me: 200 "hello alice", Set-Cookie: 0
	// /about: 200 "about us", Set-Cookie: 0
	// /me: 503 "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"Sessions are unavailable; try again shortly.\"}", Set-Cookie: 0
}

// The "remember me" box of a login form chooses, per session, a persistent
// cookie or one the browser forgets when it closes; the server ends both
// after IdleTimeout and Lifetime.
func ExampleSession_RememberMe() {
	rdb, done := newRedis()
	defer done()

	sessions, err := session.New(rdb, session.Options{})
	if err != nil {
		panic(err)
	}
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Login(r.PostFormValue("user"))
		s.RememberMe(r.PostFormValue("remember") == "on")
	})
	for _, form := range []string{"user=alice&remember=on", "user=bob"} {
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		sessions.ServeHTTP(w, r, login)
		if c := w.Result().Cookies()[0]; c.MaxAge > 0 {
			fmt.Printf("%s: kept for %d s\n", form, c.MaxAge)
		} else {
			fmt.Printf("%s: kept until the browser closes\n", form)
		}
	}
	// Output:
	// user=alice&remember=on: kept for 1800 s
	// user=bob: kept until the browser closes
}

// SetDeadline ends one session early, here an administrator's after 15
// minutes however active, and never lengthens it.
func ExampleSession_SetDeadline() {
	rdb, done := newRedis()
	defer done()

	sessions, err := session.New(rdb, session.Options{}) // Lifetime 24 hours
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		switch r.URL.Path {
		case "/admin/login":
			s.Login("root")
			s.SetDeadline(time.Now().Add(15 * time.Minute))
		case "/extend":
			s.SetDeadline(time.Now().Add(48 * time.Hour)) // later than the session's end: no change
		default:
			fmt.Fprintf(w, "%s, %v left", s.User(), time.Until(s.Deadline()).Round(time.Minute))
		}
	})
	var cookie *http.Cookie
	for _, path := range []string{"/admin/login", "/me", "/extend", "/me"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		sessions.ServeHTTP(w, r, app)
		fmt.Printf("%s: %q", path, w.Body.String())
		if c := w.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
			fmt.Printf(", cookie kept for %v", (time.Duration(c[0].MaxAge) * time.Second).Round(time.Minute))
		}
		fmt.Println()
	}
	// Output:
	// /admin/login: "", cookie kept for 15m0s
	// /me: "root, 15m0s left"
	// /extend: ""
	// /me: "root, 15m0s left"
}

// New checks every option up front: a Manager it returns never fails a
// request for its configuration.
func ExampleNew() {
	rdb, done := newRedis()
	defer done()

	shared := core.Settings{Prefix: "shop:"}
	_, err := session.New(rdb, session.Options{
		Settings: shared,
		Cookie:   session.CookieOptions{HostPrefix: true, Domain: "example.com"},
	})
	fmt.Println(errors.Is(err, core.ErrConfig))
	fmt.Println(err)

	sessions, err := session.New(rdb, session.Options{
		Settings:    shared,
		Lifetime:    8 * time.Hour,
		IdleTimeout: -1, // no idle expiry: only the 8 hours count
		Cookie:      session.CookieOptions{HostPrefix: true},
	})
	fmt.Println(sessions != nil, err)
	// Output:
	// true
	// session: invalid configuration: Options.Cookie.HostPrefix cannot be combined with Cookie.Domain: browsers accept a __Host- cookie only with Secure, Path=/ and no Domain
	// true <nil>
}

func ExampleNewTokenGuard() {
	rdb, done := newRedis()
	defer done()

	deny, err := session.NewDenyList(rdb, session.DenyListOptions{})
	if err != nil {
		panic(err)
	}
	guard, err := session.NewTokenGuard(deny, session.TokenGuardOptions{
		Parse: func(r *http.Request) (string, error) {
			// A real Parse verifies a JWT and returns its "jti".
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok == "" {
				return "", errors.New("no bearer token")
			}
			return tok, nil
		},
	})
	if err != nil {
		panic(err)
	}
	// Logging out revokes the token until its own expiry.
	if err := deny.Revoke(context.Background(), "token-1", time.Now().Add(time.Hour)); err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret data") })
	for _, token := range []string{"token-1", "token-2"} {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		guard.ServeHTTP(w, r, api)
		fmt.Println(token, w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// token-1 401 Bearer error="invalid_token" {"type":"about:blank","title":"Unauthorized","status":401,"detail":"This token has been revoked."}
	// token-2 200  secret data
}
