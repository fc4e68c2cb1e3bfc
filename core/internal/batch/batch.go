// Package batch sends the one-command calls of concurrent requests
// together: while Slots calls are out, the next ones wait for a slot and
// then go out in pipelines of up to MaxBatch calls. Below Slots concurrent calls nothing waits;
// above it a round trip carries many calls, and the app (one write and one
// read for many) and Redis (one read of the socket, one reply write) spend
// far less per call. The response cache's lookups go through a Batcher
// of its own; the rate limiter's decisions and the session manager's
// scripts through Calls, a Batcher over a client.
//
// Nothing is re-sent here: a call that must run at most once is a
// script.Cmd (NoRetry), which go-redis's pipeline retry loops honour as
// its single-command ones do.
package batch

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Slots is how many calls of a Batcher may be out at once on their own (a
// batch counting as one). Two keeps a lone caller's call, and a second
// one's, from ever waiting, and measured best for the cache's lookups
// (bench/CACHE.md: four cost more app CPU per request, for no gain).
const Slots = 2

// Sender sends calls for a Batcher: Send one command on its own, Pipeline
// many in one pipeline. Both return when the replies are in (or the
// context's deadline passed). Pipeline's error, when not nil, is every
// member's instead of its command's own: a Sender returns one when the
// commands' replies may not be read (the pipeline was abandoned at a
// deadline while still running).
type Sender interface {
	Send(ctx context.Context, cmd redis.Cmder) error
	Pipeline(ctx context.Context, cmds []redis.Cmder) error
}

// MaxBatch is how many calls a batch carries at most; the calls beyond it
// form the batches after it, which go out in turn as slots free. A
// pipeline's replies all come back when its last call is done, so its size
// bounds the work a call waits behind, and with Slots it bounds the calls
// a Batcher has out at once (2 x 64). On Redis 64 script calls take well
// under a millisecond; on a slow server (miniredis runs a script in about
// a millisecond, more under -race) a pipeline of hundreds outlasted a
// client's read timeout. At 256 callers a round trip carrying 64 calls
// saves about all that batching saves (bench/README.md).
const MaxBatch = 64

// Batcher sends calls, on their own or in batches. The zero value is ready
// to use; it must not be copied after first use.
type Batcher struct {
	mu       sync.Mutex
	inFlight int      // calls out, a batch counting as one
	queue    []*batch // the batches waiting for a slot, in order
}

// batch is calls that go out together, in one pipeline.
type batch struct {
	cmds []redis.Cmder
	// deadline is the earliest of its members' deadlines, so that none
	// waits longer than its own; zero: none has one.
	deadline time.Time
	ready    chan struct{} // closed when a slot is the batch's
	done     chan struct{} // closed when its replies are in
	err      error         // set before done is closed: the batch failed
}

// Send sends cmd through s and returns its error (cmd's own: nil,
// redis.Nil, a server error; or the call's: a deadline, a network
// failure). While fewer than Slots calls are out it goes on its own, with
// ctx. Otherwise it joins the last batch waiting for a slot (or a new one,
// when that holds MaxBatch calls), which its first member sends with
// s.Pipeline once a call out comes back and the batches before it have
// gone. A batch is sent with
// its first member's context values, not its cancellation (it answers for
// all its members), and with the earliest of its members' deadlines; a
// member's deadline is ctx's, or timeout from now if that is earlier
// (timeout zero or negative: ctx's alone).
func (b *Batcher) Send(ctx context.Context, cmd redis.Cmder, timeout time.Duration, s Sender) error {
	bt, lead := b.join(ctx, cmd, timeout)
	if bt == nil {
		defer b.release()
		return s.Send(ctx, cmd)
	}
	if lead {
		b.sendBatch(ctx, bt, s)
	} else {
		<-bt.done
	}
	if bt.err != nil {
		return bt.err
	}
	return cmd.Err()
}

// sendBatch sends bt, once a slot is its, and closes bt.done.
func (b *Batcher) sendBatch(ctx context.Context, bt *batch, s Sender) {
	defer close(bt.done)
	<-bt.ready // a call out came back; its slot is this batch's
	defer b.release()
	bctx := context.WithoutCancel(ctx)
	if !bt.deadline.IsZero() {
		var cancel context.CancelFunc
		bctx, cancel = context.WithDeadline(bctx, bt.deadline)
		defer cancel()
	}
	bt.err = s.Pipeline(bctx, bt.cmds)
}

// join returns nil when a slot is free and no batch waits (the slot is
// taken for the caller, who releases it), else the batch cmd joins (the
// last one waiting, or a new one when it is full), lead true for its first
// member, who sends it once a slot is its.
func (b *Batcher) join(ctx context.Context, cmd redis.Cmder, timeout time.Duration) (bt *batch, lead bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight < Slots && len(b.queue) == 0 {
		b.inFlight++
		return nil, false
	}
	if n := len(b.queue); n > 0 && len(b.queue[n-1].cmds) < MaxBatch {
		bt = b.queue[n-1]
	} else {
		bt = &batch{ready: make(chan struct{}), done: make(chan struct{})}
		b.queue = append(b.queue, bt)
		lead = true
	}
	bt.cmds = append(bt.cmds, cmd)
	d, ok := ctx.Deadline()
	if timeout > 0 {
		if t := time.Now().Add(timeout); !ok || t.Before(d) {
			d, ok = t, true
		}
	}
	if ok && (bt.deadline.IsZero() || d.Before(bt.deadline)) {
		bt.deadline = d
	}
	return bt, lead
}

// release frees the caller's slot: the first batch waiting takes it, if
// there is one.
func (b *Batcher) release() {
	b.mu.Lock()
	var next *batch
	if len(b.queue) > 0 {
		next = b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
	} else {
		b.inFlight--
	}
	b.mu.Unlock()
	if next != nil {
		close(next.ready)
	}
}

// Waiting returns how many calls wait in batches for a slot, for tests
// that need batches to form.
func (b *Batcher) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, bt := range b.queue {
		n += len(bt.cmds)
	}
	return n
}

// Calls sends the one-command calls of a core whose calls carry their
// deadline in their context (the rate limiter's, the session manager's)
// through a Batcher of its own, over one go-redis client: a call alone
// with Process, a batch in one pipeline. Create it with NewCalls.
type Calls struct {
	batcher Batcher
	client  clientSender
}

// NewCalls returns Calls that send through client.
func NewCalls(client redis.UniversalClient) *Calls {
	return &Calls{client: clientSender{client}}
}

// Process sends cmd, on its own or in a batch (see Batcher.Send), and
// returns once its reply is in or ctx's deadline passed.
func (c *Calls) Process(ctx context.Context, cmd redis.Cmder) error {
	return c.batcher.Send(ctx, cmd, 0, &c.client)
}

// Waiting returns how many calls wait in batches for a slot, for tests
// that need batches to form.
func (c *Calls) Waiting() int { return c.batcher.Waiting() }

// clientSender is the Sender of Calls: it returns once the replies are in
// or the context's deadline passed; each call then holds its own error.
type clientSender struct{ redis.UniversalClient }

// Send sends one call.
func (c *clientSender) Send(ctx context.Context, cmd redis.Cmder) error {
	return c.Process(ctx, cmd)
}

// Pipeline sends a batch in one pipeline.
func (c *clientSender) Pipeline(ctx context.Context, cmds []redis.Cmder) error {
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error { return p.BatchProcess(ctx, cmds...) })
	return nil
}
