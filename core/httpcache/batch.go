package httpcache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// send runs cmd, a lookup of this request, with the call deadline
// (Settings.Timeout), measured as op (the time until its reply, batch or
// not): on its own when fewer than batch.Slots lookups are out, else in
// the next batch (package batch). The error is cmd's own (nil, redis.Nil,
// a server error) or the call's (a deadline, a network failure).
func (c *Cache) send(ctx context.Context, op *telemetry.RedisOp, cmd redis.Cmder) error {
	if !op.Enabled() {
		return c.batches.Send(ctx, cmd, c.call.Timeout(), (*lookups)(c))
	}
	start := time.Now()
	err := c.batches.Send(ctx, cmd, c.call.Timeout(), (*lookups)(c))
	op.Record(ctx, time.Since(start), err)
	return err
}

// lookups sends a Cache's lookups for its batch.Batcher.
type lookups Cache

// Send sends one lookup, with the call deadline.
func (l *lookups) Send(ctx context.Context, cmd redis.Cmder) error {
	c := (*Cache)(l)
	return c.call.Do(ctx, func(ctx context.Context) error { return c.client.Process(ctx, cmd) })
}

// Pipeline sends a batch of lookups, under the batch's deadline.
func (l *lookups) Pipeline(ctx context.Context, cmds []redis.Cmder) error {
	c := (*Cache)(l)
	err := c.call.Do(ctx, func(ctx context.Context) error {
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			return p.BatchProcess(ctx, cmds...)
		})
		return err
	})
	if errors.Is(err, rediscall.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		// The call may have been abandoned while still running: its
		// commands are not to be read.
		return err
	}
	return nil
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
