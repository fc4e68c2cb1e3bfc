package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/session"
)

func ExampleManager_ServeHTTP() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	sessions := session.New(rdb)
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
	fmt.Println(cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode)
	fmt.Println(get("/"))
	fmt.Println(get("/"))
	// Output:
	// true true true
	// alice visit 1
	// alice visit 2
}
