package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/redisware/redisware/core/idempotency"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/session"
)

// Main is the whole main function of each reference app: it loads the
// configuration from the command line and the environment, connects to
// Redis (or starts an embedded one), builds the routes with newHandler and
// serves them until SIGINT or SIGTERM. name tags the log lines.
func Main(name string, newHandler func(Backend) (http.Handler, error)) {
	cfg, err := Load(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("app", name)
	slog.SetDefault(logger) // the middleware reports Redis failures here
	if err := serve(cfg, logger, newHandler); err != nil {
		logger.Error("exiting", "error", err)
		os.Exit(1)
	}
}

func serve(cfg Config, logger *slog.Logger, newHandler func(Backend) (http.Handler, error)) error {
	client, closeRedis, err := Connect(cfg, logger)
	if err != nil {
		return err
	}
	defer closeRedis()
	tel, err := NewTelemetry()
	if err != nil {
		return err
	}
	h, err := newHandler(Backend{Client: client, Telemetry: tel})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cfg.Addr, h, logger)
}

// Deps are the middleware cores every build of the app mounts, made once
// per handler from its Backend.
type Deps struct {
	// Metrics serves GET /metrics (404 when the Backend has no Telemetry).
	Metrics http.Handler
	// Dashboard serves GET /dashboard.
	Dashboard http.Handler
	// AppLimit is the app-wide limiter, outside everything else.
	AppLimit *ratelimit.Limiter
	// Limited guards GET /limited.
	Limited *ratelimit.Limiter
	// Items guards GET /items/{id}.
	Items *ratelimit.Limiter
	// Orders guards POST /orders.
	Orders *idempotency.Guard
	// Book creates the orders.
	Book *Orders
	// Sessions serves the session routes.
	Sessions *session.Manager
	// Cached serves GET /cached and POST /cached/invalidate.
	Cached *Cached
}

// NewDeps builds the cores on b.
func NewDeps(b Backend) (*Deps, error) {
	appLimit, err := NewAppLimit(b)
	if err != nil {
		return nil, err
	}
	limited, err := NewLimited(b)
	if err != nil {
		return nil, err
	}
	items, err := NewItems(b)
	if err != nil {
		return nil, err
	}
	orders, err := NewOrdersGuard(b)
	if err != nil {
		return nil, err
	}
	sessions, err := NewSessions(b)
	if err != nil {
		return nil, err
	}
	cached, err := NewCache(b)
	if err != nil {
		return nil, err
	}
	metrics := http.NotFoundHandler()
	if b.Telemetry != nil {
		metrics = b.Telemetry.Metrics()
	}
	return &Deps{Metrics: metrics, Dashboard: Dashboard(), AppLimit: appLimit, Limited: limited, Items: items, Orders: orders, Book: &Orders{}, Sessions: sessions, Cached: cached}, nil
}
