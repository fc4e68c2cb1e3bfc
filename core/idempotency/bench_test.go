package idempotency

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// benchGuard returns a guard on a counted client of a fresh server.
func benchGuard(b *testing.B) (*Guard, *redistest.RoundTrips) {
	srv := redistest.New(b)
	client := srv.Client()
	rt := redistest.CountRoundTrips(client)
	// A generous deadline: a loaded machine must not turn a slow call into
	// a 503 that fails the benchmark.
	g, err := New(client, Options{Settings: core.Settings{Prefix: srv.Prefix, Logger: quiet, Timeout: 5 * time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	return g, rt
}

var created = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"order_id":1,"item":"book","qty":2}`))
})

func benchPost(b *testing.B, g *Guard, key string) int {
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"item":"book","qty":2}`))
	r.RemoteAddr = "192.0.2.1:1"
	r.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r, created)
	return w.Code
}

// BenchmarkFirstRequest is a request with a new key: claim, run, store.
// Expect 2 round trips: the claim and the store.
func BenchmarkFirstRequest(b *testing.B) {
	g, rt := benchGuard(b)
	benchPost(b, g, "warm-up") // loads the scripts
	var i atomic.Int64
	before := rt.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := benchPost(b, g, "k"+strconv.FormatInt(i.Add(1), 10)); code != http.StatusCreated {
				b.Errorf("status %d", code)
				return
			}
		}
	})
	b.ReportMetric(float64(rt.Load()-before)/float64(b.N), "roundtrips/op")
}

// BenchmarkReplay is a retry of a completed request: one round trip that
// claims-or-reads and returns the stored response.
func BenchmarkReplay(b *testing.B) {
	g, rt := benchGuard(b)
	benchPost(b, g, "done")
	before := rt.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := benchPost(b, g, "done"); code != http.StatusCreated {
				b.Errorf("status %d", code)
				return
			}
		}
	})
	b.ReportMetric(float64(rt.Load()-before)/float64(b.N), "roundtrips/op")
}

// BenchmarkConflict is a duplicate of a request still in flight: one round
// trip, then 409.
func BenchmarkConflict(b *testing.B) {
	g, rt := benchGuard(b)
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"item":"book","qty":2}`))
	r.RemoteAddr = "192.0.2.1:1"
	key := g.recordKey(mustScope(b, g, r), http.MethodPost, core.Route(r), "busy")
	fp := fingerprint(r, []byte(`{"item":"book","qty":2}`))
	if err := claimScript.Run(b.Context(), g.client, []string{key}, "other", fp, 3_600_000).Err(); err != nil {
		b.Fatal(err)
	}
	before := rt.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := benchPost(b, g, "busy"); code != http.StatusConflict {
				b.Errorf("status %d", code)
				return
			}
		}
	})
	b.ReportMetric(float64(rt.Load()-before)/float64(b.N), "roundtrips/op")
}
