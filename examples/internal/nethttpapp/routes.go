// Package nethttpapp is the reference app's routes on net/http alone
// (examples/nethttp runs them): the same routes, with the same behaviour,
// as ginapp and echoapp.
package nethttpapp

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/nethttp"
)

// New returns the app's routes on b. Middleware order, outside in: the
// app-wide address limit (before anything else costs Redis work), the
// session (free for routes that never use it), then per route: limits,
// idempotency, the cache.
func New(b app.Backend) (http.Handler, error) {
	d, err := app.NewDeps(b)
	if err != nil {
		return nil, err
	}
	limited, orders, book, sessions := d.Limited, d.Orders, d.Book, d.Sessions
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.Metrics)
	mux.Handle("GET /dashboard", d.Dashboard)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.Handle("GET /limited", nethttp.RateLimit(limited)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"ok":true}`)
	})))
	mux.Handle("POST /orders", nethttp.Idempotency(orders)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, `{"error":"unreadable body"}`)
			return
		}
		req, err := app.ParseOrder(body)
		if err != nil {
			b, _ := json.Marshal(map[string]string{"error": err.Error()})
			writeJSON(w, http.StatusBadRequest, string(b))
			return
		}
		b, _ := json.Marshal(book.Create(r.Context(), req))
		writeJSON(w, http.StatusCreated, string(b))
	})))
	mux.Handle("POST /login", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := app.LoginUser(r)
		if err != nil {
			writeJSONValue(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		session.FromContext(r.Context()).Login(user)
		writeJSONValue(w, http.StatusOK, map[string]string{"user": user})
	}))
	mux.Handle("GET /me", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.User() == "" {
			writeJSONValue(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
			return
		}
		visits, err := s.Incr(r.Context(), "visits", 1)
		if err != nil {
			writeJSONValue(w, http.StatusServiceUnavailable, map[string]string{"error": "sessions unavailable"})
			return
		}
		writeJSONValue(w, http.StatusOK, map[string]any{"user": s.User(), "visits": visits})
	}))
	mux.Handle("POST /logout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Destroy()
		writeJSONValue(w, http.StatusOK, map[string]bool{"ok": true})
	}))
	mux.Handle("POST /logout-all", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.User() == "" {
			writeJSONValue(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
			return
		}
		n, err := sessions.RevokeAll(r.Context(), s.User())
		if err != nil {
			writeJSONValue(w, http.StatusServiceUnavailable, map[string]string{"error": "sessions unavailable"})
			return
		}
		s.Destroy() // already revoked; this clears the cookie
		writeJSONValue(w, http.StatusOK, map[string]int{"revoked": n})
	}))
	mux.Handle("GET /sessions", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.User() == "" {
			writeJSONValue(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
			return
		}
		list, err := sessions.ListSessions(r.Context(), s.User())
		if err != nil {
			writeJSONValue(w, http.StatusServiceUnavailable, map[string]string{"error": "sessions unavailable"})
			return
		}
		writeJSONValue(w, http.StatusOK, app.SessionViews(list, s))
	}))
	cached := d.Cached
	mux.Handle("GET /cached", nethttp.HTTPCache(cached.Cache)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("q")
		app.SetCachedHeaders(w.Header(), q)
		writeJSON(w, http.StatusOK, string(cached.Lookup(q)))
	})))
	mux.Handle("GET /greeting", nethttp.HTTPCache(cached.Cache)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Load(r.Context()); err != nil {
			writeJSONValue(w, http.StatusServiceUnavailable, map[string]string{"error": "sessions unavailable"})
			return
		}
		w.Header().Set("Cache-Control", app.GreetingCacheControl)
		writeJSONValue(w, http.StatusOK, app.Greet(s.User()))
	})))
	mux.Handle("GET /items/{id}", nethttp.RateLimit(d.Items)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONValue(w, http.StatusOK, app.Item{ID: r.PathValue("id")})
	})))
	// POST /cached/invalidate is open to anyone, as the reference app's
	// contract says; a real app must guard such a route (an admin role,
	// a network policy), or any client can empty the cache.
	mux.HandleFunc("POST /cached/invalidate", func(w http.ResponseWriter, r *http.Request) {
		status, body := cached.Invalidate(r)
		writeJSON(w, status, body)
	})
	// Outside in: the address limit, then the session, both before the
	// mux dispatches, so they find the route with RoutesFrom.
	withSession := nethttp.Session(sessions, nethttp.RoutesFrom(mux))(mux)
	return nethttp.RateLimit(d.AppLimit, nethttp.RoutesFrom(mux))(withSession), nil
}

// writeJSONValue sends v as JSON with status.
func writeJSONValue(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeJSON(w, status, string(b))
}

// writeJSON sends body, which must be JSON, with status.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
