package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// An Obtain whose reply is lost after the script took the lock does not
// report "not obtained" because of its own lock: go-redis would re-send the
// script on the connection error (MaxRetries, 3 by default), and the second
// run would find the lock taken, by this very call. Obtain reports the
// failure instead, and releases what the lost call took, so the lock is
// free at once rather than at its TTL.
func TestObtainLostReply(t *testing.T) {
	t.Parallel()
	for _, face := range []string{"client", "autopipeline"} {
		t.Run(face, func(t *testing.T) {
			t.Parallel()
			testObtainLostReply(t, face == "autopipeline")
		})
	}
}

// testObtainLostReply is TestObtainLostReply on a client, or on its
// AutoPipeliner (where script calls wait on its deferred face).
func testObtainLostReply(t *testing.T, autoPipeline bool) {
	srv := redistest.New(t)
	var f redistest.Faults
	var rdb redis.UniversalClient = srv.FaultyClient(&f)
	if autoPipeline {
		rdb = redistest.AutoPipeline(t, rdb, redistest.Blocking)
	}
	c, err := lock.New(rdb, lock.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: testTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The key's node gets the scripts first (a NOSCRIPT reply, which means
	// the script did not run, is not what is tested).
	l, err := c.Obtain(ctx, "job", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}

	f.ResetScriptCalls()
	f.DropScriptReplies(1)
	l, err = c.Obtain(ctx, "job", time.Minute, nil)
	if err == nil || errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("Obtain with a lost reply = %v, %v; want a Redis error, not ErrNotObtained", l, err)
	}
	if got := f.ScriptCalls(); got != 2 {
		t.Errorf("%d script calls; want 2: the obtain, once, and the release", got)
	}
	// Released after the failure: another instance gets it now, well
	// before its minute-long TTL.
	other := newClient(t, srv)
	l, err = other.Obtain(ctx, "job", time.Minute, nil)
	if err != nil {
		t.Fatalf("after the failed Obtain, another instance: %v; want the lock, released", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
