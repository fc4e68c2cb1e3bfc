package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/session"
)

// A revocation lives exactly as long as the token it revokes: once the
// token has expired by itself, its entry is gone and the list holds nothing
// for it.
func ExampleNewDenyList() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	shared := core.Settings{Prefix: "shop:"} // the deployment's settings, shared by every core
	deny, err := session.NewDenyList(rdb, session.DenyListOptions{Settings: shared})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := deny.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil { // the token's own "exp"
		panic(err)
	}
	revoked, _ := deny.Revoked(ctx, "jti-1")
	other, _ := deny.Revoked(ctx, "jti-2")
	fmt.Println("jti-1:", revoked, "jti-2:", other)
	fmt.Println("keys:", len(mr.Keys()))

	mr.FastForward(time.Hour + time.Second) // the token has expired by itself
	revoked, _ = deny.Revoked(ctx, "jti-1")
	fmt.Println("jti-1:", revoked, "keys:", len(mr.Keys()))
	// Output:
	// jti-1: true jti-2: false
	// keys: 1
	// jti-1: false keys: 0
}

// Logging out revokes the request's own token: the TokenGuard refuses it
// from the next request on, while the user's other tokens still pass.
func ExampleDenyList_Revoke() {
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
	bearer := func(r *http.Request) (string, error) {
		// A real Parse verifies a JWT and returns its "jti".
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			return "", errors.New("no bearer token")
		}
		return tok, nil
	}
	guard, err := session.NewTokenGuard(deny, session.TokenGuardOptions{Parse: bearer})
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logout" {
			id, _ := bearer(r) // the guard let it through: it is valid
			if err := deny.Revoke(r.Context(), id, time.Now().Add(15*time.Minute)); err != nil {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "bye")
			return
		}
		fmt.Fprint(w, "data")
	})
	send := func(path, token string) {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		guard.ServeHTTP(w, r, api)
		fmt.Println(path, token, w.Code, w.Body.String())
	}
	send("/data", "phone")
	send("/logout", "phone")
	send("/data", "phone")
	send("/data", "laptop")
	// Output:
	// /data phone 200 data
	// /logout phone 200 bye
	// /data phone 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"This token has been revoked."}
	// /data laptop 200 data
}
