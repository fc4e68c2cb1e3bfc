// Package rediscall runs request-path Redis calls under a short deadline.
//
// go-redis applies a context deadline to socket I/O only when the client was
// built with ContextTimeoutEnabled; otherwise a hung server holds a call for
// the client's ReadTimeout (seconds). A Caller therefore checks the client
// once: when it honours contexts the call runs inline with a deadline, and
// when it does not, the call runs in a goroutine that the caller abandons
// the moment the deadline passes. Either way no request waits longer than
// the deadline.
package rediscall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/heal"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// DefaultTimeout is the deadline of a request-path Redis call when the user
// sets none: long enough for a loaded server on the same network, short
// enough that a request never notices a dead one for long.
const DefaultTimeout = 100 * time.Millisecond

// ErrTimeout is returned (wrapped) when a call did not finish within its
// deadline.
var ErrTimeout = errors.New("redis call exceeded its deadline")

// Caller runs Redis calls with a deadline.
type Caller struct {
	client  redis.UniversalClient
	timeout time.Duration
	inline  bool
	// scriptsInline: calls that only send scripts through package script
	// honour their context on this client (an AutoPipeliner), so DoScript
	// runs them inline even where Do cannot.
	scriptsInline bool
}

// New returns a Caller for client. timeout 0 means DefaultTimeout; a
// negative timeout disables the deadline (the client's own timeouts apply).
func New(client redis.UniversalClient, timeout time.Duration) Caller {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	c := Caller{client: client, timeout: timeout, inline: HonoursContext(client)}
	if ap, ok := client.(*redis.AutoPipeliner); ok {
		c.scriptsInline = script.DeferredFace(ap) != nil
	}
	return c
}

// Timeout returns the deadline of each call (negative: none).
func (c Caller) Timeout() time.Duration { return c.timeout }

// HonoursContext reports whether client applies context deadlines to its
// socket reads and writes.
func HonoursContext(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Do runs fn with a context that ends after the deadline. It returns fn's
// error, or an error wrapping ErrTimeout and context.DeadlineExceeded if the
// deadline passed first; a cancelled parent context returns its error. A
// failure that can mean the Cluster's topology changed (a dead master, a
// promotion) makes the client reload its slot map (package heal), so every
// core follows a failover within a fraction of a second.
func (c Caller) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	err := c.do(ctx, fn)
	if err != nil {
		heal.Observe(ctx, c.client, err)
	}
	return err
}

// DoScript is Do for a fn that sends nothing but script calls, and sends
// them through package script (Script.Run, SendOnce, Send): on an
// AutoPipeliner those wait with their context, so fn runs inline, where Do
// runs it in a goroutine of its own. Any other command in fn could then
// outlast the deadline: use Do for it.
func (c Caller) DoScript(ctx context.Context, fn func(ctx context.Context) error) error {
	return c.forScripts().Do(ctx, fn)
}

// DoScriptMeasured is DoScript, recording the call as DoMeasured does.
func (c Caller) DoScriptMeasured(ctx context.Context, op *telemetry.RedisOp, fn func(ctx context.Context) error) error {
	return c.forScripts().DoMeasured(ctx, op, fn)
}

// forScripts returns c for calls that send only scripts (see DoScript).
func (c Caller) forScripts() Caller {
	c.inline = c.inline || c.scriptsInline
	return c
}

func (c Caller) do(ctx context.Context, fn func(ctx context.Context) error) error {
	if c.timeout < 0 {
		return fn(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.inline {
		err := fn(ctx)
		if err != nil && Ended(ctx) != nil {
			return c.expired(ctx, err)
		}
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("redis call panicked: %v", p)
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		if err != nil && Ended(ctx) != nil {
			return c.expired(ctx, err)
		}
		return err
	case <-ctx.Done():
		return c.expired(ctx, ctx.Err())
	}
}

// DoMeasured is Do, recording the call's duration and whether it failed
// with op (nil records nothing).
func (c Caller) DoMeasured(ctx context.Context, op *telemetry.RedisOp, fn func(ctx context.Context) error) error {
	if !op.Enabled() {
		return c.Do(ctx, fn)
	}
	start := time.Now()
	err := c.Do(ctx, fn)
	op.Record(ctx, time.Since(start), err)
	return err
}

func (c Caller) expired(ctx context.Context, cause error) error {
	if errors.Is(Ended(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v): %w", ErrTimeout, c.timeout, cause)
	}
	return cause
}

// Ended returns why ctx has ended, or nil. A call that failed on its
// socket deadline (set from ctx's deadline when the client has
// ContextTimeoutEnabled) can return before ctx's own timer has closed
// Done: a deadline that has passed counts as ended then too.
func Ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
