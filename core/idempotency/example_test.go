package idempotency_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/session"
)

func ExampleGuard_ServeHTTP() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	// The deployment's shared settings, then this guard's own fields.
	shared := core.Settings{Prefix: "shop:", Timeout: 50 * time.Millisecond}
	guard, err := idempotency.New(rdb, idempotency.Options{Settings: shared, Name: "charges", Required: true})
	if err != nil {
		panic(err)
	}
	charges := 0
	charge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The claimed key, to pass on to the payment provider.
		key, _ := idempotency.KeyFromContext(r.Context())
		charges++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "charge %d with key %s\n", charges, key)
	})
	send := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(`{"amount":500}`))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		guard.ServeHTTP(w, r, charge)
		return w
	}
	first := send(`"7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0"`)
	retry := send(`"7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0"`)
	missing := send("")
	fmt.Print(first.Code, " ", first.Body.String())
	fmt.Print(retry.Code, " ", retry.Header().Get("Idempotent-Replayed"), " ", retry.Body.String())
	fmt.Println(missing.Code, missing.Header().Get("Content-Type"))
	fmt.Println("charges:", charges)
	// Output:
	// 201 charge 1 with key 7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0
	// 201 true charge 1 with key 7c1e9a52-1c4e-4c39-9f7e-8d6ff4a6b1e0
	// 400 application/problem+json
	// charges: 1
}

func ExampleNew_invalid() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // never dialled
	defer rdb.Close()

	// A misconfigured guard fails here, naming the field, never at
	// request time.
	_, err := idempotency.New(rdb, idempotency.Options{ClaimTTL: time.Millisecond})
	fmt.Println(err)
	// Output:
	// idempotency: invalid configuration: Options.ClaimTTL 1ms is under 30ms
}

// The scope follows the user: with the session middleware mounted outside
// the guard, two users behind one address who send the same key and body
// each get their own order, and a user's retry from another address gets
// that user's response back.
func ExampleGuard_DefaultScope() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()

	shared := core.Settings{Prefix: "shop:"}
	sessions, err := session.New(rdb, session.Options{Settings: shared})
	if err != nil {
		panic(err)
	}
	guard, err := idempotency.New(rdb, idempotency.Options{Settings: shared, Name: "orders"})
	if err != nil {
		panic(err)
	}
	orders := 0
	order := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orders++
		fmt.Fprintf(w, "order %d for %s", orders, session.FromContext(r.Context()).User())
	})
	// The session middleware outside, the guard inside it, on POST /orders.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.ServeHTTP(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				session.FromContext(r.Context()).Login(r.FormValue("user"))
				return
			}
			guard.ServeHTTP(w, r, order)
		}))
	})
	send := func(addr, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(`{"item":"book"}`))
		r.RemoteAddr = addr
		r.Header.Set("Idempotency-Key", "order-1")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}
	// Two users behind one NAT address log in.
	alice := send("203.0.113.7:1000", "/login?user=alice").Result().Cookies()[0]
	bob := send("203.0.113.7:2000", "/login?user=bob").Result().Cookies()[0]

	fmt.Println(send("203.0.113.7:1000", "/orders", alice).Body)
	fmt.Println(send("203.0.113.7:2000", "/orders", bob).Body)
	// Alice retries from her phone: another address, the same user.
	retry := send("198.51.100.4:3000", "/orders", alice)
	fmt.Println(retry.Body, retry.Header().Get("Idempotent-Replayed"))
	scope, _ := guard.DefaultScope(httptest.NewRequest(http.MethodPost, "/orders", nil))
	fmt.Printf("%q\n", scope)
	// Output:
	// order 1 for alice
	// order 2 for bob
	// order 1 for alice true
	// "address\x00192.0.2.1"
}
