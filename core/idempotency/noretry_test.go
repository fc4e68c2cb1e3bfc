package idempotency

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/redistest"
)

// A claim whose reply is lost after the script ran is not answered 409:
// go-redis would re-send the claim on the connection error (MaxRetries, 3
// by default), and the second run would find the first one's record in
// flight. The request is refused with 503 instead (the handler never runs
// without a claim); the guard gives up the claim it may have left, and the
// client's retry then runs the handler, once, and later retries replay it.
func TestClaimLostReplyIsNotAConflict(t *testing.T) {
	t.Parallel()
	for _, face := range []string{"client", "autopipeline"} {
		t.Run(face, func(t *testing.T) {
			t.Parallel()
			testClaimLostReply(t, face == "autopipeline")
		})
	}
}

// testClaimLostReply is TestClaimLostReplyIsNotAConflict on a client, or
// on its AutoPipeliner (where script calls wait on its deferred face).
func testClaimLostReply(t *testing.T, autoPipeline bool) {
	srv := redistest.New(t)
	var f redistest.Faults
	var fc redis.UniversalClient = srv.FaultyClient(&f)
	if autoPipeline {
		fc = redistest.AutoPipeline(t, fc, redistest.Blocking)
	}
	const claimTTL = time.Minute
	g, err := New(fc, Options{Settings: core.Settings{Prefix: srv.Prefix, Logger: quiet, Timeout: 5 * time.Second}, ClaimTTL: claimTTL})
	if err != nil {
		t.Fatal(err)
	}
	// Every master has the claim script: a NOSCRIPT reply, which means the
	// script did not run, is not what is tested.
	for _, s := range []*script.Script{claimScript, releaseScript} {
		if err := s.Load(context.Background(), fc).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var runs atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"order":1}`)
	})

	f.ResetScriptCalls()
	f.DropScriptReplies(1)
	rec := post(g, "k1", "x", h)
	if rec.Code != http.StatusServiceUnavailable || runs.Load() != 0 {
		t.Fatalf("claim with a lost reply: status %d (%s), handler ran %d times; want 503 and no run", rec.Code, strings.TrimSpace(rec.Body.String()), runs.Load())
	}

	// The guard gives the claim it may have made up at once, in the
	// background: the record is gone long before ClaimTTL (a minute).
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("x"))
	r.RemoteAddr = "192.0.2.1:1"
	key := g.recordKey(mustScope(t, g, r), http.MethodPost, core.Route(r), "k1")
	admin := srv.Client()
	deadline := time.Now().Add(10 * time.Second)
	for admin.Exists(context.Background(), key).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the claim whose reply was lost was not released")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.ScriptCalls(); got != 2 {
		t.Errorf("%d script calls; want two: the claim, once (not re-sent), and the release", got)
	}
	if rec := post(g, "k1", "x", h); rec.Code != http.StatusCreated || runs.Load() != 1 {
		t.Fatalf("retry after the claim was released: status %d, handler ran %d times; want 201 and one run", rec.Code, runs.Load())
	}
	rec = post(g, "k1", "x", h)
	if rec.Code != http.StatusCreated || rec.Body.String() != `{"order":1}` || rec.Header().Get("Idempotent-Replayed") != "true" || runs.Load() != 1 {
		t.Fatalf("second retry: status %d %q replayed %q, handler ran %d times; want the stored 201 replayed", rec.Code, rec.Body, rec.Header().Get("Idempotent-Replayed"), runs.Load())
	}
}
