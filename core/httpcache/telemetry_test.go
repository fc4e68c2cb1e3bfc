package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/telemetry"
	"github.com/redisware/redisware/core/redistest"
)

// After a scripted sequence the cache's counters hold exact values.
func TestTelemetry(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newCache(t, srv, Options{Name: "pages", Settings: core.Settings{MeterProvider: mp}})
	m := newMW(t, c, Route{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "t1")
		_, _ = w.Write([]byte("hello"))
	})
	send := func(method string, header ...string) {
		r := httptest.NewRequest(method, "http://example.com/page?private-query=secret-123", nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		m.ServeHTTP(httptest.NewRecorder(), r, h)
	}
	send(http.MethodGet)                              // miss, stored
	send(http.MethodGet)                              // hit
	send(http.MethodGet)                              // hit
	send(http.MethodGet, "Cache-Control", "no-cache") // bypass: request, and stored again
	send(http.MethodPost)                             // bypass: method (and invalidates)
	ctx := context.Background()
	if _, err := c.InvalidateTags(ctx, "t1", "t2"); err != nil {
		t.Fatal(err)
	}
	load := func(ctx context.Context) ([]byte, error) { return []byte("v"), nil }
	if _, err := c.GetOrLoad(ctx, "k", time.Minute, load); err != nil { // miss, stored
		t.Fatal(err)
	}
	if _, err := c.GetOrLoad(ctx, "k", time.Minute, load); err != nil { // hit
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			sum, ok := mt.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				var parts []string
				for _, kv := range dp.Attributes.ToSlice() {
					if strings.Contains(kv.Value.String(), "secret-123") {
						t.Errorf("%s carries the request's query", mt.Name)
					}
					if kv.Key != "redisware.component" && kv.Key != "redisware.policy" {
						parts = append(parts, string(kv.Key)+"="+kv.Value.String())
					}
				}
				got[mt.Name+"|"+strings.Join(parts, ",")] += dp.Value
			}
		}
	}
	want := map[string]int64{
		"redisware.cache.requests|redisware.outcome=miss":                            2,
		"redisware.cache.requests|redisware.outcome=hit":                             3,
		"redisware.cache.requests|redisware.outcome=bypass,redisware.reason=request": 1,
		"redisware.cache.requests|redisware.outcome=bypass,redisware.reason=method":  1,
		"redisware.cache.stores|":                                                    3, // the no-cache request stores a fresh copy
		"redisware.cache.invalidations|redisware.kind=tag":                           2,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if got["redisware.cache.stored_bytes|"] <= 0 {
		t.Errorf("stored bytes %d", got["redisware.cache.stored_bytes|"])
	}
}

// A miss is an answer, not a Redis failure: after misses and hits of pages
// and values, redisware.redis.duration holds no error outcome; and
// redis.Nil, which go-redis returns for a missing key, is recorded as ok.
func TestRedisDurationMissIsNoError(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newCache(t, srv, Options{Settings: core.Settings{MeterProvider: mp}})
	m := newMW(t, c, Route{})
	o := &origin{}
	wantMiss(t, get(m, o, "/a"))
	wantHit(t, get(m, o, "/a"))
	wantMiss(t, get(m, o, "/b", "Cache-Control: no-store"))
	ctx := context.Background()
	if _, err := c.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := c.GetOrLoad(ctx, "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("v"), nil }); err != nil {
		t.Fatal(err)
	}
	op := telemetry.New("httpcache", mp, nil).RedisOp("direct")
	op.Record(ctx, time.Millisecond, redis.Nil)
	op.Record(ctx, time.Millisecond, fmt.Errorf("wrapped: %w", redis.Nil))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			h, ok := mt.Data.(metricdata.Histogram[float64])
			if mt.Name != "redisware.redis.duration" || !ok {
				continue
			}
			for _, dp := range h.DataPoints {
				op, _ := dp.Attributes.Value(telemetry.Operation)
				outcome, _ := dp.Attributes.Value(telemetry.Outcome)
				counts[op.AsString()+"/"+outcome.AsString()] += dp.Count
			}
		}
	}
	for k, n := range counts {
		if strings.HasSuffix(k, "/error") {
			t.Errorf("%s: %d", k, n)
		}
	}
	if counts["direct/ok"] != 2 || counts["lookup/ok"] == 0 || counts["get/ok"] == 0 {
		t.Errorf("outcomes %v", counts)
	}
}
