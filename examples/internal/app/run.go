package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts of the server Run starts.
const (
	// readHeaderTimeout stops clients that hold a connection open by
	// sending headers slowly.
	readHeaderTimeout = 5 * time.Second
	// idleTimeout closes keep-alive connections left unused.
	idleTimeout = 2 * time.Minute
	// shutdownTimeout bounds the wait for requests in flight at shutdown.
	shutdownTimeout = 10 * time.Second
)

// Run serves h on addr with an http.Server until ctx is done, then shuts
// down gracefully: it stops accepting connections, waits up to 10 seconds
// for requests in flight and returns nil. It logs one line once it
// listens, with the address it bound. main cancels ctx on SIGINT and
// SIGTERM with signal.NotifyContext. Run returns an error when it cannot
// listen or the server fails.
func Run(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("serving HTTP", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // Serve returns only on failure until Shutdown
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
