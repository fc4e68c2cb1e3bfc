package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

func TestTelemetry(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, err := lock.New(srv.Client(), lock.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 2 * time.Second, MeterProvider: mp}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := c.Obtain(ctx, "job", time.Minute, nil) // obtained
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Obtain(ctx, "job", time.Minute, nil); !errors.Is(err, lock.ErrNotObtained) { // contended
		t.Fatal(err)
	}
	lctx, stop := l.AutoRefresh(ctx, 20*time.Millisecond)
	defer stop()
	lockKey, _ := lock.KeysOf(srv.Prefix, "job")
	if err := srv.Client().Del(ctx, lockKey).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lctx.Done(): // lost
	case <-time.After(10 * time.Second):
		t.Fatal("the lost lock was never noticed")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	ops := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					o, _ := dp.Attributes.Value("redisware.outcome")
					got[o.AsString()] += dp.Value
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					op, _ := dp.Attributes.Value("redisware.operation")
					ops[op.AsString()] += dp.Count
				}
			}
		}
	}
	if got["obtained"] != 1 || got["contended"] != 1 || got["lost"] != 1 {
		t.Fatalf("lock operations %v, want obtained 1, contended 1, lost 1", got)
	}
	if ops["obtain"] != 2 || ops["refresh"] < 1 {
		t.Fatalf("redis durations %v, want 2 obtains and at least one refresh", ops)
	}
}

// Do makes a span, a child of the caller's, with its outcome.
func TestDoSpan(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	c, err := lock.New(srv.Client(), lock.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 2 * time.Second, TracerProvider: tp}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := tp.Tracer("test").Start(context.Background(), "request")
	if err := c.Do(ctx, "secret-job-key", time.Minute, nil, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	root.End()
	var found bool
	for _, s := range spans.Ended() {
		if s.Name() != "redisware.lock" {
			continue
		}
		found = true
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Error("the lock span is not a child of the caller's")
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "redisware.outcome" && kv.Value.AsString() != "done" {
				t.Errorf("outcome %q", kv.Value.AsString())
			}
			if kv.Value.AsString() == "secret-job-key" {
				t.Error("the lock key became an attribute")
			}
		}
	}
	if !found {
		t.Fatal("no redisware.lock span")
	}
}
