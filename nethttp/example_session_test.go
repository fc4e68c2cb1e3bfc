package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/nethttp"
)

// Login binds the session to a user; the browser's next request, carrying
// the cookie, sees that user.
func ExampleSession() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	sessions, err := session.New(rdb, session.Options{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("user") // check the password here
		session.FromContext(r.Context()).Login(user)
		fmt.Fprintf(w, "welcome %s", user)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Load(r.Context()); err != nil {
			return // the middleware answers 503
		}
		if s.User() == "" {
			http.Error(w, "please log in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello %s", s.User())
	})
	app := nethttp.Session(sessions)(mux)

	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"user": {"alice"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	app.ServeHTTP(w, login)
	cookie := w.Result().Cookies()[0]
	fmt.Println(w.Code, w.Body.String())
	fmt.Println("cookie:", cookie.Name, cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode)

	for _, c := range []*http.Cookie{cookie, nil} {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 welcome alice
	// cookie: session true true true
	// 200 hello alice
	// 401 please log in
}
