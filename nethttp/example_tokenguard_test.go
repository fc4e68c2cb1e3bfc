package nethttp_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/nethttp"
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
// from then on.
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "alice") })
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		id, _ := bearer(r)                          // the guard let it through: it is valid
		expires := time.Now().Add(15 * time.Minute) // the token's own "exp"
		if err := deny.Revoke(r.Context(), id, expires); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "bye")
	})
	api := nethttp.TokenGuard(guard)(mux)

	for _, step := range []struct{ method, path, token string }{
		{http.MethodGet, "/me", "token-1"},
		{http.MethodPost, "/logout", "token-1"},
		{http.MethodGet, "/me", "token-1"},
		{http.MethodGet, "/me", ""},
	} {
		r := httptest.NewRequest(step.method, step.path, nil)
		if step.token != "" {
			r.Header.Set("Authorization", "Bearer "+step.token)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(step.method, step.path, w.Code, w.Body.String())
	}
	// Output:
	// GET /me 200 alice
	// POST /logout 200 bye
	// GET /me 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"This token has been revoked."}
	// GET /me 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"A valid bearer token is required."}
}
