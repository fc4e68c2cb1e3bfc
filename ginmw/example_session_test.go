package ginmw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/ginmw"
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
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginmw.Session(sessions))
	r.POST("/login", func(c *gin.Context) {
		user := c.PostForm("user") // check the password here
		ginmw.SessionFrom(c).Login(user)
		c.String(http.StatusOK, "welcome %s", user)
	})
	r.GET("/me", func(c *gin.Context) {
		s := ginmw.SessionFrom(c)
		if err := s.Load(c.Request.Context()); err != nil {
			return // the middleware answers 503
		}
		if s.User() == "" {
			c.String(http.StatusUnauthorized, "please log in")
			return
		}
		c.String(http.StatusOK, "hello %s", s.User())
	})

	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"user": {"alice"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, login)
	cookie := w.Result().Cookies()[0]
	fmt.Println(w.Code, w.Body.String())
	fmt.Println("cookie:", cookie.Name, cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode)

	for _, c := range []*http.Cookie{cookie, nil} {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		if c != nil {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 welcome alice
	// cookie: session true true true
	// 200 hello alice
	// 401 please log in
}
