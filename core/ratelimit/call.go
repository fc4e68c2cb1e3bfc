package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/heal"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// A decision is one Lua script call, and it must never run twice: go-redis
// re-sends a command (or a whole pipeline, or an AutoPipeliner's batch)
// that failed on a connection error, up to Options.MaxRetries times, and a
// script that ran before the connection dropped would then consume the
// request's units twice. A call is a script.Cmd, NoRetry, which every
// go-redis retry loop honours (single commands, pipelines, Cluster and Ring
// clients, and both of an AutoPipeliner's dispatch paths): a call that may
// have reached the server is reported failed instead, and the failure
// policy applies. A call that certainly did not (no connection, a refused
// dial: script.Unsent) is sent again here, and a NOSCRIPT reply, which
// means the script did not run, is answered with EVAL. The other cores
// run their scripts with package script as a whole; the limiter keeps its
// own calls (arguments boxed once, shared deadlines) and shares the rest.

// caller makes a Limiter's script calls.
type caller struct {
	client redis.UniversalClient
	// async is the deferred face of an AutoPipeliner client: calls are
	// submitted to it and waited for with the call's deadline, which the
	// AutoPipeliner does not apply by itself.
	async *redis.AutoPipeliner
	// timeout is the deadline of each call; negative: none.
	timeout time.Duration
	// inline is true when a call can run on the caller's goroutine and
	// still end at its deadline: the client applies context deadlines to
	// its socket I/O, or async waits with the context. Otherwise a call
	// runs in a goroutine of its own, abandoned at the deadline.
	inline    bool
	deadlines *deadlines
	// batches sends the calls of concurrent decisions together (not on
	// an AutoPipeliner, which batches them itself).
	batches *batch.Calls
}

func newCaller(client redis.UniversalClient, timeout time.Duration) (*caller, error) {
	c := &caller{client: client, timeout: timeout, batches: batch.NewCalls(client)}
	if c.timeout == 0 {
		c.timeout = rediscall.DefaultTimeout
	}
	if ap, ok := client.(*redis.AutoPipeliner); ok {
		// The blocking face waits for a command without its context; the
		// deferred face of the same client lets us wait with it.
		c.async = script.DeferredFace(ap)
		if c.async == nil {
			return nil, fmt.Errorf("the client is an AutoPipeliner whose deferred face (AsyncAutoPipeline) cannot be built")
		}
		c.inline = true
	} else {
		c.inline = rediscall.HonoursContext(client)
	}
	if c.timeout > 0 {
		c.deadlines = newDeadlines(c.timeout)
	}
	return c, nil
}

// deadline returns a channel closed at the deadline of a call made now, or
// nil when calls have none.
func (c *caller) deadline() <-chan struct{} {
	if c == nil || c.deadlines == nil {
		return nil
	}
	return c.deadlines.at(time.Now()).done
}

// eval runs s as EVALSHA, then as EVAL if the server does not have it, with
// args, which start with three slots for the command, the SHA-1 (or the
// source) and the number of keys: one Redis call, under the deadline of a
// call starting now (the real clock's). It returns the script's reply.
func (c *caller) eval(ctx context.Context, op *telemetry.RedisOp, on bool, s *script.Script, args []interface{}, now time.Time) (interface{}, error) {
	var start time.Time
	if on && op.Enabled() {
		start = time.Now()
	}
	var (
		v   interface{}
		err error
	)
	switch {
	case c.timeout < 0:
		v, err = c.run(ctx, s, args)
	case ctx.Err() != nil:
		err = ctx.Err()
	default:
		dctx := c.deadlines.context(ctx, now)
		if c.inline {
			v, err = c.run(dctx, s, args)
		} else {
			v, err = c.runAside(dctx, s, args)
		}
		if err != nil && rediscall.Ended(dctx) != nil {
			err = fmt.Errorf("%w (%v): %w", rediscall.ErrTimeout, c.timeout, err)
		}
	}
	if err != nil {
		heal.Observe(ctx, c.client, err)
	}
	if !start.IsZero() {
		op.Record(ctx, time.Since(start), err)
	}
	return v, err
}

// runAside is run in a goroutine of its own, for clients that ignore
// context deadlines: the caller stops waiting at the deadline, and the
// call, if it is still running, finishes unobserved.
func (c *caller) runAside(ctx context.Context, s *script.Script, args []interface{}) (interface{}, error) {
	type result struct {
		v   interface{}
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("redis call panicked: %v", p)}
			}
		}()
		v, err := c.run(ctx, s, args)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run sends the script, by SHA-1 first.
func (c *caller) run(ctx context.Context, s *script.Script, args []interface{}) (interface{}, error) {
	sha, src := s.Args()
	args[0], args[1] = "evalsha", sha
	cmd, err := c.sendOnce(ctx, args)
	if script.IsNoScript(err) {
		// The script did not run; send it whole. (The first command is
		// done with args: nothing re-sends it.)
		args = append([]interface{}{"eval", src}, args[2:]...)
		cmd, err = c.sendOnce(ctx, args)
	}
	if err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}

// sendOnce sends one script command, which runs at most once: it is
// script.SendOnce's loop, written out because its closures cost a heap
// allocation on every decision (BenchmarkDecideCPU: 15 allocations, not 16).
func (c *caller) sendOnce(ctx context.Context, args []interface{}) (script.Cmd, error) {
	for attempt := 0; ; attempt++ {
		cmd := script.Cmd{Cmd: redis.NewCmd(ctx, args...)}
		err := c.send(ctx, cmd)
		if err == nil || attempt == script.UnsentRetries || !script.Unsent(err) || ctx.Err() != nil {
			return cmd, err
		}
	}
}

func (c *caller) send(ctx context.Context, cmd redis.Cmder) error {
	cmd.SetFirstKeyPos(3)
	if c.async != nil {
		return c.async.Submit(ctx, cmd).WaitContext(ctx)
	}
	return c.batches.Process(ctx, cmd)
}

// deadlines gives Redis calls their deadline without a timer each: a
// runtime timer per call (context.WithTimeout) costs a measurable share of
// a decision's CPU, most of it in waking the network poller. Calls that
// start within the same tick (a millisecond at most) share one deadline,
// one channel and one timer, set at most timeout after each call starts
// and no more than a tick before.
type deadlines struct {
	timeout, tick time.Duration
	origin        time.Time // monotonic; tick n ends at origin + n*tick
	mu            sync.Mutex
	cur           atomic.Pointer[deadlineTick]
}

type deadlineTick struct {
	n    int64
	at   time.Time
	done chan struct{}
}

func newDeadlines(timeout time.Duration) *deadlines {
	tick := min(time.Millisecond, timeout/16)
	tick = max(tick, time.Microsecond)
	return &deadlines{timeout: timeout, tick: tick, origin: time.Now()}
}

// context returns a context for a call starting now (the real clock's), with parent's values
// and a deadline timeout from now. The call is bounded by that deadline
// alone: cancelling parent once the call is under way does not cut it
// short (it ends within the timeout anyway). A parent whose own deadline
// is earlier gets context.WithTimeout's exact treatment.
func (d *deadlines) context(parent context.Context, now time.Time) context.Context {
	t := d.at(now)
	if pd, ok := parent.Deadline(); ok && pd.Before(t.at) {
		ctx, cancel := context.WithTimeout(parent, d.timeout)
		// the earlier deadline ends it; cancel stops the timer then
		context.AfterFunc(ctx, cancel)
		return ctx
	}
	if parent.Done() != nil {
		parent = context.WithoutCancel(parent)
	}
	return &deadlineCtx{Context: parent, t: t}
}

// at returns the tick whose deadline is the latest one no later than
// now + timeout.
func (d *deadlines) at(now time.Time) *deadlineTick {
	n := int64(now.Sub(d.origin)+d.timeout) / int64(d.tick)
	if t := d.cur.Load(); t != nil && t.n == n {
		return t
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.cur.Load()
	if cur != nil && cur.n == n {
		return cur
	}
	t := &deadlineTick{n: n, at: d.origin.Add(time.Duration(n) * d.tick), done: make(chan struct{})}
	time.AfterFunc(t.at.Sub(now), func() { close(t.done) })
	if cur == nil || n > cur.n {
		d.cur.Store(t)
	}
	return t
}

// deadlineCtx is a context whose deadline is a shared tick's.
type deadlineCtx struct {
	context.Context // the caller's, without its cancellation: values only
	t               *deadlineTick
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.t.at, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.t.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.t.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) String() string { return "ratelimit.deadline(" + c.t.at.String() + ")" }
