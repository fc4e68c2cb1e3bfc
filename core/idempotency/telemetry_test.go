package idempotency

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// After a scripted sequence the request counter holds exact values per
// outcome, each guarded request has a span, and the idempotency key never
// reaches an attribute or a log line.
func TestTelemetry(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	const secret = "key-5f0c1e2a-very-secret"
	g, err := New(srv.Client(), Options{Name: "orders", Required: true,
		Settings: core.Settings{Prefix: srv.Prefix, Timeout: 2 * time.Second, MeterProvider: mp, TracerProvider: tp, Logger: logger}})
	if err != nil {
		t.Fatal(err)
	}
	down, _ := New(redistest.Hung(t), Options{Name: "orders",
		Settings: core.Settings{Timeout: 30 * time.Millisecond, MeterProvider: mp, TracerProvider: tp, Logger: logger}})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	parent, root := tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	send := func(g *Guard, method, key, body string) {
		r := httptest.NewRequest(method, "/orders", strings.NewReader(body)).WithContext(parent)
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		g.ServeHTTP(httptest.NewRecorder(), r, ok)
	}
	send(g, http.MethodPost, secret, "a")    // claimed
	send(g, http.MethodPost, secret, "a")    // replayed
	send(g, http.MethodPost, secret, "a")    // replayed
	send(g, http.MethodPost, secret, "b")    // mismatch
	send(g, http.MethodPost, "", "a")        // invalid
	send(g, http.MethodGet, "", "")          // unguarded
	send(down, http.MethodPost, secret, "a") // unavailable

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, isSum := m.Data.(metricdata.Sum[int64]); isSum && m.Name == "redisware.idempotency.requests" {
				for _, dp := range sum.DataPoints {
					o, _ := dp.Attributes.Value("redisware.outcome")
					p, _ := dp.Attributes.Value("redisware.policy")
					if p.AsString() != "orders" {
						t.Errorf("policy %q", p.AsString())
					}
					got[o.AsString()] += dp.Value
				}
			}
		}
	}
	want := map[string]int64{"claimed": 1, "replayed": 2, "mismatch": 1, "invalid": 1, "unguarded": 1, "unavailable": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(spans.Ended()) != 7 {
		t.Errorf("%d spans, want 7", len(spans.Ended()))
	}
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.String(), secret) {
				t.Errorf("span attribute %s holds the idempotency key", kv.Key)
			}
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), secret) {
		t.Errorf("logs: want a warning and no key: %s", logs.String())
	}
}
