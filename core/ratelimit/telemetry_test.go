package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
	"github.com/redisware/redisware/core/redistest"
)

// sums returns every Int64 sum data point of the collected metrics as
// "name|attr=value,..." -> value.
func sums(t *testing.T, reader *sdkmetric.ManualReader) (map[string]int64, map[string]uint64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	hists := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					counts[m.Name+"|"+attrString(dp.Attributes)] += dp.Value
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					hists[m.Name+"|"+attrString(dp.Attributes)] += dp.Count
				}
			}
		}
	}
	return counts, hists
}

func attrString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// After a scripted sequence of requests the metrics hold exact values, a
// span exists per decision, and no client key appears in any attribute or
// log line.
func TestTelemetry(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	clk := newClock()
	shared := core.Settings{Prefix: srv.Prefix, Timeout: 2 * time.Second, MeterProvider: mp, TracerProvider: tp, Logger: logger}
	opts := ratelimit.Options{Settings: shared, Name: "api", Clock: clk.Now, Limits: []ratelimit.Limit{ratelimit.PerMinute(2)}}
	l, err := ratelimit.New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// The same policy in shadow mode: it shares l's counts in Redis, and
	// has a deny cache of its own.
	opts.Shadow = true
	shadow, err := ratelimit.New(srv.Client(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// The request's own span, as otelhttp would make it: decision spans are
	// its children.
	parent, root := tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	send := func(l *ratelimit.Limiter, addr string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(parent)
		r.RemoteAddr = addr + ":1234"
		l.ServeHTTP(httptest.NewRecorder(), r, http.NotFoundHandler())
	}
	for i := 0; i < 5; i++ {
		send(l, "203.0.113.7") // 2 allowed (the second takes what was left), 3 from the deny cache
	}
	send(shadow, "203.0.113.7")  // denied by Redis, counted as a shadow denial
	send(shadow, "203.0.113.7")  // the deny cache, counted as a shadow denial
	send(shadow, "198.51.100.9") // allowed
	shared.Timeout = 30 * time.Millisecond
	failing, _ := ratelimit.New(redistest.Hung(t), ratelimit.Options{Settings: shared, Name: "api", Limits: []ratelimit.Limit{ratelimit.PerMinute(2)}})
	send(failing, "203.0.113.7") // fails open

	counts, hists := sums(t, reader)
	want := map[string]int64{
		"redisware.ratelimit.decisions|redisware.component=ratelimit,redisware.outcome=allowed,redisware.policy=api":       3,
		"redisware.ratelimit.decisions|redisware.component=ratelimit,redisware.outcome=denied,redisware.policy=api":        3,
		"redisware.ratelimit.decisions|redisware.component=ratelimit,redisware.outcome=shadow_denied,redisware.policy=api": 2,
		"redisware.ratelimit.decisions|redisware.component=ratelimit,redisware.outcome=failed_open,redisware.policy=api":   1,
		"redisware.ratelimit.deny_cache.hits|redisware.component=ratelimit,redisware.policy=api":                           4,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s = %d, want %d", k, counts[k], v)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("unexpected series: %v", counts)
	}
	okCalls := hists["redisware.redis.duration|redisware.component=ratelimit,redisware.operation=allow,redisware.outcome=ok"]
	errCalls := hists["redisware.redis.duration|redisware.component=ratelimit,redisware.operation=allow,redisware.outcome=error"]
	if okCalls != 4 || errCalls != 1 { // 3 allowed + the shadow's first denial reached Redis; 1 failed
		t.Errorf("redis.duration counts: ok %d, error %d; want 4 and 1 (%v)", okCalls, errCalls, hists)
	}
	ended := spans.Ended()
	for _, s := range ended {
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("span %q is not a child of the request's span", s.Name())
		}
	}
	if len(ended) != 9 {
		t.Fatalf("%d spans, want one per decision (9)", len(ended))
	}
	outcomes := map[string]int{}
	for _, s := range ended {
		if s.Name() != "redisware.ratelimit" {
			t.Errorf("span %q", s.Name())
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "redisware.outcome" {
				outcomes[kv.Value.AsString()]++
			}
			if strings.Contains(kv.Value.String(), "203.0.113.7") || strings.Contains(kv.Value.String(), "198.51.100.9") {
				t.Errorf("span attribute %s holds a client key", kv.Key)
			}
		}
	}
	if outcomes["allowed"] != 3 || outcomes["denied"] != 3 || outcomes["shadow_denied"] != 2 || outcomes["failed_open"] != 1 {
		t.Errorf("span outcomes %v", outcomes)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Error("the Redis failure was not logged")
	}
	if strings.Contains(logs.String(), "203.0.113.7") {
		t.Error("a client key reached the log")
	}
}
