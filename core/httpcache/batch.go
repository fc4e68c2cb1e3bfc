package httpcache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// batchSlots is how many of a Cache's lookups may be out at once on their
// own; a lookup made while that many are out waits for the next batch,
// which goes out in one pipeline as soon as one of them comes back. Below
// that many concurrent lookups nothing waits; above it, a round trip
// carries many lookups, and Redis and the app spend far less per lookup.
const batchSlots = 2

// batcher sends the lookups (one command each, see send) of concurrent
// requests together.
type batcher struct {
	mu       sync.Mutex
	inFlight int    // lookups out, a batch counting as one
	next     *batch // the batch that goes out when a slot frees
}

// batch is lookups that go out together, in one pipeline.
type batch struct {
	cmds []redis.Cmder
	// deadline is the earliest of its members' deadlines, so that none
	// waits longer than its own.
	deadline time.Time
	ready    chan struct{} // closed when a slot is the batch's
	done     chan struct{} // closed when its replies are in
	err      error         // set before done is closed: the batch failed
}

// send runs cmd, a lookup of this request, with the call deadline
// (Settings.Timeout), measured as op (the time until its reply, batch or
// not): on its own when fewer than batchSlots lookups are out, else in
// the next batch. The error is cmd's own (nil, redis.Nil, a server error)
// or the call's (a deadline, a network failure).
func (c *Cache) send(ctx context.Context, op *telemetry.RedisOp, cmd redis.Cmder) error {
	if !op.Enabled() {
		return c.send0(ctx, cmd)
	}
	start := time.Now()
	err := c.send0(ctx, cmd)
	op.Record(ctx, time.Since(start), err)
	return err
}

func (c *Cache) send0(ctx context.Context, cmd redis.Cmder) error {
	b, lead := c.batches.join(cmd, c.call.Timeout())
	if b == nil {
		defer c.batches.release()
		return c.call.Do(ctx, func(ctx context.Context) error { return c.client.Process(ctx, cmd) })
	}
	if lead {
		c.sendBatch(ctx, b)
	} else {
		<-b.done
	}
	if b.err != nil {
		return b.err
	}
	return cmd.Err()
}

// sendBatch sends b, once a slot is its, and closes b.done.
func (c *Cache) sendBatch(ctx context.Context, b *batch) {
	defer close(b.done)
	<-b.ready // a lookup out came back; its slot is this batch's
	defer c.batches.release()
	// The batch answers for all its members: it outlives this request's
	// cancellation, not the earliest member's deadline.
	bctx := context.WithoutCancel(ctx)
	if !b.deadline.IsZero() {
		var cancel context.CancelFunc
		bctx, cancel = context.WithDeadline(bctx, b.deadline)
		defer cancel()
	}
	err := c.call.Do(bctx, func(ctx context.Context) error {
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			return p.BatchProcess(ctx, b.cmds...)
		})
		return err
	})
	if errors.Is(err, rediscall.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		// The call may have been abandoned while still running: its
		// commands are not to be read.
		b.err = err
	}
}

// join returns nil when a slot is free (taken for the caller, who releases
// it), else the batch cmd joins, lead true for its first member, who
// sends it once a slot frees up.
func (b *batcher) join(cmd redis.Cmder, timeout time.Duration) (bt *batch, lead bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight < batchSlots && b.next == nil {
		b.inFlight++
		return nil, false
	}
	if b.next == nil {
		b.next = &batch{ready: make(chan struct{}), done: make(chan struct{})}
		lead = true
	}
	bt = b.next
	bt.cmds = append(bt.cmds, cmd)
	if timeout > 0 {
		if d := time.Now().Add(timeout); bt.deadline.IsZero() || d.Before(bt.deadline) {
			bt.deadline = d
		}
	}
	return bt, lead
}

// release frees the caller's slot: the next batch takes it, if there is
// one.
func (b *batcher) release() {
	b.mu.Lock()
	next := b.next
	if next == nil {
		b.inFlight--
	}
	b.next = nil
	b.mu.Unlock()
	if next != nil {
		close(next.ready)
	}
}

// sendScript runs s on keys with args as a lookup of this request (see
// send), again with EVAL when the server does not have the script yet.
// It returns the script's reply; the reply is not to be read when the
// error is the call's (a deadline).
//
// The call is never re-sent once it may have reached the server (a batch
// holding it is not either): see package script.
func (c *Cache) sendScript(ctx context.Context, op *telemetry.RedisOp, s *script.Script, keys []string, args ...any) (any, error) {
	var start time.Time
	if op.Enabled() {
		start = time.Now()
	}
	cmd, err := script.SendOnce(ctx, script.ProcessorFunc(func(ctx context.Context, cmd redis.Cmder) error {
		return c.send(ctx, nil, cmd)
	}), func() script.Cmd { return s.EvalSha(ctx, keys, args...) })
	if script.IsNoScript(err) {
		var eval script.Cmd // read only once Do has returned nil
		err = c.call.Do(ctx, func(ctx context.Context) error {
			e, err := script.SendOnce(ctx, c.client, func() script.Cmd { return s.Eval(ctx, keys, args...) })
			eval = e
			return err
		})
		if err == nil {
			cmd = eval
		}
	}
	if op.Enabled() {
		op.Record(ctx, time.Since(start), err)
	}
	if err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}
