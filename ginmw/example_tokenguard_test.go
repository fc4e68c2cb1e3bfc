package ginmw_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/ginmw"
)

// bearer returns the bearer token of r. A real Parse verifies a JWT (its
// signature, issuer, audience and expiry) and returns its "jti".
func bearer(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", errors.New("no bearer token")
	}
	return tok, nil
}

// Logging out revokes the token until its own expiry: the guard refuses it
// from then on, and aborts the chain.
func ExampleTokenGuard() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	deny, err := session.NewDenyList(rdb, session.DenyListOptions{})
	if err != nil {
		panic(err)
	}
	guard, err := session.NewTokenGuard(deny, session.TokenGuardOptions{Parse: bearer})
	if err != nil {
		panic(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api := r.Group("/api", ginmw.TokenGuard(guard))
	api.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "alice") })
	api.POST("/logout", func(c *gin.Context) {
		id, _ := bearer(c.Request)                  // the guard let it through: it is valid
		expires := time.Now().Add(15 * time.Minute) // the token's own "exp"
		if err := deny.Revoke(c.Request.Context(), id, expires); err != nil {
			c.String(http.StatusServiceUnavailable, "try again")
			return
		}
		c.String(http.StatusOK, "bye")
	})

	for _, step := range []struct{ method, path, token string }{
		{http.MethodGet, "/api/me", "token-1"},
		{http.MethodPost, "/api/logout", "token-1"},
		{http.MethodGet, "/api/me", "token-1"},
		{http.MethodGet, "/api/me", ""},
	} {
		req := httptest.NewRequest(step.method, step.path, nil)
		if step.token != "" {
			req.Header.Set("Authorization", "Bearer "+step.token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(step.method, step.path, w.Code, w.Body.String())
	}
	// Output:
	// GET /api/me 200 alice
	// POST /api/logout 200 bye
	// GET /api/me 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"This token has been revoked."}
	// GET /api/me 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"A valid bearer token is required."}
}
