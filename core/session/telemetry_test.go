package session

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

func TestTelemetry(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	m := newManager(t, srv, func(o *Options) {
		o.MeterProvider, o.TracerProvider, o.Logger = mp, tp, logger
	})
	parent, root := tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	a := &client{t: t, m: m, h: app(t), ctx: parent}
	a.do("/put?x=1")         // created
	a.do("/login?user=hana") // renewed
	b := &client{t: t, m: m, h: app(t), ctx: parent}
	b.do("/login?user=hana") // created (an empty session logging in)
	c := &client{t: t, m: m, h: app(t), ctx: parent}
	c.do("/put?y=1") // created
	c.do("/logout")  // destroyed
	if n, err := m.RevokeAll(context.Background(), "hana"); n != 2 || err != nil {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	cookies := []string{a.cookie, b.cookie}
	down := downManager(t, core.Settings{Timeout: 30 * time.Millisecond, MeterProvider: mp, TracerProvider: tp, Logger: logger})
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(parent)
	r.AddCookie(&http.Cookie{Name: "session", Value: a.cookie})
	r.URL.Path = "/user"
	down.ServeHTTP(httptest.NewRecorder(), r, app(t)) // load failure

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if sum, ok := mt.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					o, _ := dp.Attributes.Value("redisware.outcome")
					got[mt.Name+"|"+o.AsString()] += dp.Value
				}
			}
		}
	}
	want := map[string]int64{
		"redisware.session.operations|created":   3,
		"redisware.session.operations|renewed":   1,
		"redisware.session.operations|destroyed": 1,
		"redisware.session.operations|revoked":   2,
		"redisware.session.load_failures|":       1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all %v)", k, got[k], v, got)
		}
	}
	if n := len(spans.Ended()); n != 6 {
		t.Errorf("%d spans, want one per request (6)", n)
	}
	for _, ck := range append(cookies, c.cookie) {
		if ck == "" {
			continue
		}
		id, _, _ := parseCookie(ck)
		if strings.Contains(logs.String(), id) {
			t.Error("a session ID reached the log")
		}
		for _, s := range spans.Ended() {
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.String(), id) {
					t.Error("a session ID reached a span")
				}
			}
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Error("the load failure was not logged")
	}
}
