package httpcache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

// An invalidation whose first script's reply is lost after it ran does not
// report success while the tagged value is still cached: go-redis would
// re-send tagtake.lua on the connection error (MaxRetries, 3 by default),
// and the second run, finding the index already moved aside, would answer
// "nothing tagged", so InvalidateTags returned 0 and no error, and the
// value stayed. The failure is reported instead.
func TestInvalidateTagsLostReply(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var f redistest.Faults
	c := newCacheOn(t, srv.FaultyClient(&f), srv, Options{})
	ctx := context.Background()
	// The tag's node gets tagtake.lua first (a NOSCRIPT reply, which means
	// the script did not run, is not what is tested).
	if _, err := c.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "a", []byte("v"), time.Hour, "t"); err != nil {
		t.Fatal(err)
	}

	f.ResetScriptCalls()
	f.DropScriptReplies(1)
	n, err := c.InvalidateTags(ctx, "t")
	if err == nil {
		// Only a true success may say so: the value must be gone.
		_, gerr := newCache(t, srv, Options{}).Get(ctx, "a")
		if n != 1 || !errors.Is(gerr, ErrNotFound) {
			t.Fatalf("InvalidateTags with a lost reply = %d, nil, and Get of the tagged value: %v; want an error, or 1 and ErrNotFound", n, gerr)
		}
	}
	if got := f.ScriptCalls(); got != 1 {
		t.Errorf("%d script calls; want one: the lost tagtake.lua, not re-sent", got)
	}
	if err == nil {
		return
	}
	// Called again, it finishes the work the failed call left: the index
	// that call moved aside is drained, and the value is gone.
	if n, err := c.InvalidateTags(ctx, "t"); err != nil || n != 1 {
		t.Fatalf("InvalidateTags again = %d, %v; want 1, nil", n, err)
	}
	if _, err := newCache(t, srv, Options{}).Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of the tagged value after InvalidateTags again: %v; want ErrNotFound", err)
	}
	// Nothing is left to drain.
	if n, err := c.InvalidateTags(ctx, "t"); err != nil || n != 0 {
		t.Fatalf("InvalidateTags a third time = %d, %v; want 0, nil", n, err)
	}
}

// A pipeline holding scripts (Set with tags: SET, PUBLISH and tagadd.lua)
// whose replies are lost after the server ran it is not sent again whole:
// go-redis re-sends a failed pipeline unless one of its commands is
// NoRetry. Set reports the failure; the value was written once.
func TestSetPipelineLostReplyNotResent(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var f redistest.Faults
	c := newCacheOn(t, srv.FaultyClient(&f), srv, Options{})
	ctx := context.Background()
	// The same key and tag first, so that the tag's node has tagadd.lua (a NOSCRIPT
	// reply, which means the script did not run, is not what is tested).
	if err := c.Set(ctx, "a", []byte("v1"), time.Hour, "t"); err != nil {
		t.Fatal(err)
	}

	f.ResetScriptCalls()
	f.DropScriptReplies(1)
	if err := c.Set(ctx, "a", []byte("v2"), time.Hour, "t"); err == nil {
		t.Error("Set with lost replies succeeded; want the failure reported")
	}
	if got := f.ScriptCalls(); got != 1 {
		t.Errorf("the pipeline's script was sent %d times; want once", got)
	}
	if v, err := newCache(t, srv, Options{}).Get(ctx, "a"); err != nil || string(v) != "v2" {
		t.Errorf("Get = %q, %v; want v2: the SET ran", v, err)
	}
}
