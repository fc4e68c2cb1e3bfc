package app

import (
	_ "embed"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Telemetry is the app's metrics pipeline: an OpenTelemetry SDK meter
// provider whose reader is the OpenTelemetry Prometheus exporter, on a
// registry of its own (so tests, each with their own, never collide).
type Telemetry struct {
	// Provider is the meter provider every core of the app reports to.
	Provider *sdkmetric.MeterProvider
	// Registry holds what /metrics serves.
	Registry *prometheus.Registry
}

// NewTelemetry returns a fresh pipeline.
func NewTelemetry() (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	return &Telemetry{Provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), Registry: reg}, nil
}

// Metrics serves the metrics in the Prometheus text format (GET /metrics).
func (t *Telemetry) Metrics() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{})
}

//go:embed dashboard.html
var dashboardHTML []byte

// Dashboard serves GET /dashboard: one HTML page, no build step, that polls
// /metrics and charts the last minutes of rate-limit decisions, the cache
// hit ratio, the Redis latency, and session, idempotency and lock
// operations.
func Dashboard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(dashboardHTML)
	})
}
