package httpcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned by Get when nothing is stored under the key.
var ErrNotFound = errors.New("httpcache: not found")

// dataKey returns the Redis key of an application value; the key is
// escaped (or hashed, when long) and is its own hash tag.
func (c *Cache) dataKey(key string) string { return c.space.Tagged(key, ":d") }

// Get returns the value stored under key with Set or GetOrLoad: from the
// in-process tier when it holds it, else from Redis in one round trip. It
// returns ErrNotFound when there is none, and a Redis failure otherwise.
// The caller owns the returned slice.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := c.getData(ctx, c.dataKey(key))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), e.body...), nil
}

// dataRead is what one Redis read of a value shares with the reads that
// waited for it.
type dataRead struct {
	e   *entry
	err error
}

// getData returns the entry of a value: from the in-process tier, else from
// Redis, concurrent reads of one key in this instance sharing one call.
func (c *Cache) getData(ctx context.Context, rk string) (*entry, error) {
	e, local, err := c.getData0(ctx, rk)
	switch {
	case err == nil && local:
		c.tel.request(ctx, outcomeLocalHit)
	case err == nil:
		c.tel.request(ctx, outcomeHit)
	case errors.Is(err, ErrNotFound):
		c.tel.request(ctx, outcomeMiss)
	default:
		c.tel.bypassed(ctx, "redis_unavailable")
	}
	return e, err
}

func (c *Cache) getData0(ctx context.Context, rk string) (e *entry, local bool, err error) {
	now := c.nowMS()
	if e := c.local.get(rk, now); e != nil {
		return e, true, nil
	}
	fl, leader := c.reads.join(rk)
	if !leader {
		if res, _ := fl.wait(ctx, -1).(*dataRead); res != nil {
			return res.e, false, res.err
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		e, err := c.readData(ctx, rk, now)
		return e, false, err
	}
	res := &dataRead{err: errors.New("httpcache: read abandoned")}
	defer func() { c.reads.finish(rk, fl, res) }()
	res.e, res.err = c.readData(ctx, rk, now)
	return res.e, false, res.err
}

func (c *Cache) readData(ctx context.Context, rk string, now int64) (*entry, error) {
	epoch := c.local.epochNow()
	var raw string
	err := c.call.DoMeasured(ctx, c.tel.ops["get"], func(ctx context.Context) error {
		v, err := c.client.Get(ctx, rk).Result()
		raw = v
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("httpcache: get: %w", err)
	}
	e, err := decodeEntry([]byte(raw), -1)
	if err != nil {
		return nil, err
	}
	if e.gone(now) {
		return nil, ErrNotFound
	}
	c.local.put(rk, rk, "", "", e, now, epoch)
	return e, nil
}

// Set stores value under key for ttl (at least a millisecond), indexed
// under tags for InvalidateTags, in one pipeline that also tells every
// instance's in-process tier to drop its copy (write-through).
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration, tags ...string) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("httpcache: set %q: ttl %v is under a millisecond", key, ttl)
	}
	return c.setData(ctx, c.dataKey(key), value, ttl, cleanTags(tags), true)
}

func (c *Cache) setData(ctx context.Context, rk string, value []byte, ttl time.Duration, tags []string, notify bool) error {
	now := c.nowMS()
	e := &entry{body: value, stored: now, lifetime: ttl.Milliseconds(), keep: ttl.Milliseconds(), tags: tags}
	blob := e.encode(c.opts.CompressAbove)
	var calls []scriptCall
	for _, tag := range tags {
		calls = append(calls, scriptCall{tagAddScript, []string{c.tagKey(tag)}, []any{rk, e.keep}})
	}
	if notify {
		c.local.apply(string(msgKey) + rk)
	}
	err := c.call.DoMeasured(ctx, c.tel.ops["set"], func(ctx context.Context) error {
		return c.pipeline(ctx, calls, func(p redis.Pipeliner) {
			p.Set(ctx, rk, blob, ttl)
			if notify {
				p.Publish(ctx, c.channel, string(msgKey)+rk)
			}
		})
	})
	if err != nil {
		return fmt.Errorf("httpcache: set: %w", err)
	}
	c.tel.stored(ctx, len(blob))
	return nil
}

// Delete forgets the values stored under keys, in every instance's
// in-process tier as well.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	c.tel.invalidated(ctx, "key", len(keys))
	rks := make([]string, len(keys))
	for i, k := range keys {
		rks[i] = c.dataKey(k)
	}
	if err := c.forget(ctx, rks...); err != nil {
		return fmt.Errorf("httpcache: delete: %w", err)
	}
	return nil
}

// dataResult is what a GetOrLoad leader shares with the callers that
// waited for it.
type dataResult struct {
	value []byte
	err   error
}

// GetOrLoad returns the value stored under key, or loads it with load,
// stores it for ttl under tags, and returns it (cache-aside). Concurrent
// misses for one key run load once per instance and, through a lock in
// Redis, once across instances: the others wait up to
// Options.WaitTimeout for the stored value, then load it themselves. A
// load error is returned to the callers that waited for it, and nothing
// is stored. If Redis fails, GetOrLoad returns what load returns: the
// cache failing is never the caller's error (it is logged and reported
// to Settings.OnError).
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error), tags ...string) ([]byte, error) {
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("httpcache: get or load %q: ttl %v is under a millisecond", key, ttl)
	}
	rk := c.dataKey(key)
	e, err := c.getData(ctx, rk)
	if err == nil {
		return append([]byte(nil), e.body...), nil
	}
	if !errors.Is(err, ErrNotFound) {
		c.report(ctx, err)
		return load(ctx)
	}
	fl, leader := c.flights.join(rk)
	if !leader {
		if res, _ := fl.wait(ctx, c.opts.WaitTimeout).(*dataResult); res != nil {
			if res.err != nil {
				return nil, res.err
			}
			return append([]byte(nil), res.value...), nil
		}
		return load(ctx)
	}
	res := &dataResult{err: errors.New("httpcache: the loader panicked")}
	defer func() { c.flights.finish(rk, fl, res) }()
	if c.opts.WaitTimeout < 0 {
		// no waiting across instances: load, store, done
		v, err := load(ctx)
		res = &dataResult{value: v, err: err}
		if err != nil {
			return nil, err
		}
		if err := c.setData(context.WithoutCancel(ctx), rk, v, ttl, cleanTags(tags), false); err != nil {
			c.report(ctx, err)
		}
		return append([]byte(nil), v...), nil
	}
	var polled *entry
	release, ready := c.lead(ctx, rk, func(ctx context.Context) bool {
		// a re-check while waiting for the filler, not a lookup of its own
		e, _, err := c.getData0(ctx, rk)
		polled = e
		return err == nil
	})
	if ready {
		res = &dataResult{value: polled.body}
		return append([]byte(nil), polled.body...), nil
	}
	if release != nil {
		defer release()
	}
	v, err := load(ctx)
	if err != nil {
		res = &dataResult{err: err}
		return nil, err
	}
	res = &dataResult{value: v}
	if err := c.setData(context.WithoutCancel(ctx), rk, v, ttl, cleanTags(tags), false); err != nil {
		c.report(ctx, err)
	}
	return append([]byte(nil), v...), nil
}

// pipeline sends the commands extra queues and the script calls in one
// pipeline (EVALSHA), and the scripts the server did not have again as
// EVAL.
func (c *Cache) pipeline(ctx context.Context, calls []scriptCall, extra func(p redis.Pipeliner)) error {
	cmds := make([]*redis.Cmd, len(calls))
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if extra != nil {
			extra(p)
		}
		for i, cl := range calls {
			cmds[i] = cl.s.EvalSha(ctx, p, cl.keys, cl.args...)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	// Each call touches the keys of one slot, so the pipeline is
	// Cluster-safe; only NOSCRIPT answers are worth another try.
	var again []int
	for i, cmd := range cmds {
		if e := cmd.Err(); e != nil {
			if !redis.HasErrorPrefix(e, "NOSCRIPT") {
				return e
			}
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return err
	}
	_, err = c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, i := range again {
			cl := calls[i]
			cmds[i] = cl.s.Eval(ctx, p, cl.keys, cl.args...)
		}
		return nil
	})
	return err
}
