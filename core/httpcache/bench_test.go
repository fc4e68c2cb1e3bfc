package httpcache

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redisware/redisware/core/redistest"
)

// benchHit measures hits on one stored URL from parallel goroutines.
func benchHit(b *testing.B, opts Options) {
	srv := redistest.New(b)
	c := newCache(b, srv, opts)
	if opts.LocalBytes > 0 {
		waitForB(b, c.LocalReady)
	}
	m := newMW(b, c, Route{})
	o := &origin{}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/bench?x=1", nil), o)
	rt := redistest.CountRoundTrips(c.client)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/bench?x=1", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		r.Header.Set("User-Agent", "bench")
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			m.ServeHTTP(w, r, o)
		}
	})
	b.ReportMetric(float64(rt.Load())/float64(b.N), "roundtrips/op")
	if o.runs.Load() != 1 {
		b.Fatalf("handler ran %d times", o.runs.Load())
	}
}

func BenchmarkHit(b *testing.B)      { benchHit(b, Options{}) }
func BenchmarkLocalHit(b *testing.B) { benchHit(b, Options{LocalBytes: 1 << 20}) }

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func waitForB(b *testing.B, cond func() bool) {
	for i := 0; !cond(); i++ {
		if i > 5000 {
			b.Fatal("condition not met")
		}
		runtimeGosched()
	}
}
