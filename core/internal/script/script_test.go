package script_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/redistest"
)

var incr = script.New("return redis.call('INCR', KEYS[1])")

// Run sends EVALSHA, and EVAL when the server does not have the script.
func TestRunLoadsOnNoScript(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	c := srv.Client()
	ctx := context.Background()
	s := script.New("return {KEYS[1], ARGV[1]} -- " + srv.Prefix) // new to the server
	v, err := s.Run(ctx, c, []string{srv.Key("k")}, "a").Slice()
	if err != nil || len(v) != 2 || v[0] != srv.Key("k") || v[1] != "a" {
		t.Fatalf("Run = %v, %v", v, err)
	}
	var node redis.Cmdable = c
	if cc, ok := c.(*redis.ClusterClient); ok {
		// a Cluster client asks every master; EVAL loaded it on the key's only
		n, err := cc.MasterForKey(ctx, srv.Key("k"))
		if err != nil {
			t.Fatal(err)
		}
		node = n
	}
	if exists, err := node.ScriptExists(ctx, s.Hash()).Result(); err != nil || !exists[0] {
		t.Fatalf("after Run, SCRIPT EXISTS = %v, %v; want true (loaded by EVAL)", exists, err)
	}
}

// A script whose reply is lost after it ran runs once: Run reports the
// connection error instead of letting go-redis re-send it.
func TestRunLostReplyRunsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var f redistest.Faults
	c := srv.FaultyClient(&f)
	ctx := context.Background()
	key := srv.Key("n")
	if err := incr.Run(ctx, c, []string{key}).Err(); err != nil { // loads it on key's node
		t.Fatal(err)
	}
	f.ResetScriptCalls()
	f.DropScriptReplies(1)
	if err := incr.Run(ctx, c, []string{key}).Err(); err == nil {
		t.Fatal("Run with a lost reply succeeded; want the connection error")
	}
	if got := f.ScriptCalls(); got != 1 {
		t.Errorf("sent %d times; want once", got)
	}
	if n, err := srv.Client().Get(ctx, key).Int(); err != nil || n != 2 {
		t.Fatalf("counter = %d, %v; want 2", n, err)
	}
}

// sends counts the commands a client is asked to send.
type sends struct{ n atomic.Int64 }

func (d *sends) DialHook(next redis.DialHook) redis.DialHook { return next }
func (d *sends) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		d.n.Add(1)
		return next(ctx, cmd)
	}
}
func (d *sends) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A call that could not get a connection certainly did not run: it is sent
// again, UnsentRetries times, where go-redis would not (NoRetry).
func TestRunResendsUnsent(t *testing.T) {
	t.Parallel()
	c := redistest.Refused(t)
	var d sends
	c.AddHook(&d)
	err := incr.Run(context.Background(), c, []string{"k"}).Err()
	if !script.Unsent(err) {
		t.Fatalf("Run on a refused port: %v; want a dial error", err)
	}
	if got := d.n.Load(); got != script.UnsentRetries+1 {
		t.Errorf("sent %d times; want %d", got, script.UnsentRetries+1)
	}
}

func TestUnsent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.ErrPoolTimeout, true},
		{errors.New("EOF"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := script.Unsent(tc.err); got != tc.want {
			t.Errorf("Unsent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
