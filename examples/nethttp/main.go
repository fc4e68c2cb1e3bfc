// Command nethttp is the redisware reference app on net/http alone. It
// serves the same routes as examples/gin and examples/echo:
//
//	GET /healthz   200 {"status":"ok"}, never rate limited
//	GET /limited   200 {"ok":true}; the 6th request within 10 s from one
//	               address gets 429 application/problem+json
//
// Run it with no Redis at all (it starts an embedded miniredis), or point
// it at one with REDIS_URL or REDIS_CLUSTER_ADDRS:
//
//	go run ./examples/nethttp -addr :8080
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/nethttp
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/nethttp"
)

func main() {
	cfg, err := app.Load(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("app", "nethttp")
	slog.SetDefault(logger) // the limiter reports Redis failures here
	if err := run(cfg, logger); err != nil {
		logger.Error("exiting", "error", err)
		os.Exit(1)
	}
}

func run(cfg app.Config, logger *slog.Logger) error {
	client, closeRedis, err := app.Connect(cfg, logger)
	if err != nil {
		return err
	}
	defer closeRedis()
	h, err := newHandler(app.Backend{Client: client})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg.Addr, h, logger)
}

// newHandler returns the app's routes on b.
func newHandler(b app.Backend) (http.Handler, error) {
	limited, err := app.NewLimited(b)
	if err != nil {
		return nil, err
	}
	orders, err := app.NewOrdersGuard(b)
	if err != nil {
		return nil, err
	}
	book := &app.Orders{}
	sessions, err := app.NewSessions(b)
	if err != nil {
		return nil, err
	}
	withSession := nethttp.Session(sessions)
	mux := http.NewServeMux()
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
	mux.Handle("POST /login", withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := app.LoginUser(r)
		if err != nil {
			writeJSONValue(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		session.FromContext(r.Context()).Login(user)
		writeJSONValue(w, http.StatusOK, map[string]string{"user": user})
	})))
	mux.Handle("GET /me", withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})))
	mux.Handle("POST /logout", withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Destroy()
		writeJSONValue(w, http.StatusOK, map[string]bool{"ok": true})
	})))
	mux.Handle("POST /logout-all", withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})))
	mux.Handle("GET /sessions", withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})))
	return mux, nil
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
