package app

import (
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/redisware/redisware/core"
)

// Backend is what the app's routes are built on.
type Backend struct {
	// Client is the Redis (or Redis Cluster) client.
	Client redis.UniversalClient
	// Prefix starts every Redis key; empty means the library's default.
	Prefix string
	// Timeout bounds each Redis call of the middleware; zero means the
	// library's default (100ms). Tests raise it: they run under the race
	// detector on busy machines, against an in-process miniredis.
	Timeout time.Duration
	// Telemetry, when set, receives the middleware's metrics and serves
	// /metrics; nil means the global (no-op) provider and no /metrics.
	Telemetry *Telemetry
}

// meter returns the meter provider of b: its Telemetry's, or nil for the
// global one.
func (b Backend) meter() metric.MeterProvider {
	if b.Telemetry == nil {
		return nil
	}
	return b.Telemetry.Provider
}

// Settings returns the settings every core of the app shares: b's key
// prefix, call timeout and meter provider. The app trusts no proxy, so no
// forwarding header picks a client's address.
func (b Backend) Settings() core.Settings {
	return core.Settings{Prefix: b.Prefix, Timeout: b.Timeout, MeterProvider: b.meter()}
}
