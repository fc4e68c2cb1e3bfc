package httpcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned by Get when nothing is stored under the key.
var ErrNotFound = errors.New("httpcache: not found")

// dataKey returns the Redis key of an application value; the key is
// escaped (or hashed, when long) and is its own hash tag.
func (c *Cache) dataKey(key string) string { return c.space.Tagged(key, ":d") }

// genKeyOf returns the generation key (see forget.lua) of the Redis key rk
// of a URL or a value: the same hash tag, so the same slot.
func (c *Cache) genKeyOf(rk string) string {
	i := strings.IndexByte(rk[len(c.base):], '}')
	if !strings.HasPrefix(rk, c.base) || i < 0 {
		return rk + genSuffix // not one of ours; never read
	}
	return rk[:len(c.base)+i+1] + genSuffix
}

// Get returns the value stored under key with Set or GetOrLoad: from the
// in-process tier when it holds it, else from Redis in one round trip. It
// returns ErrNotFound when there is none, and a Redis failure otherwise.
// The caller owns the returned slice.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	e, _, err := c.getData(ctx, c.dataKey(key))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), e.body...), nil
}

// dataRead is what one Redis read of a value shares with the reads that
// waited for it.
type dataRead struct {
	e   *entry
	gen string
	err error
}

// getData returns the entry of a value: from the in-process tier, else from
// Redis, concurrent reads of one key in this instance sharing one call.
// gen is the key's generation as Redis had it ("" for none).
func (c *Cache) getData(ctx context.Context, rk string) (*entry, string, error) {
	e, gen, local, err := c.getData0(ctx, rk)
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
	return e, gen, err
}

func (c *Cache) getData0(ctx context.Context, rk string) (e *entry, gen string, local bool, err error) {
	now := c.nowMS()
	if e := c.local.get(rk, now); e != nil {
		return e, e.gen, true, nil
	}
	fl, leader := c.reads.join(rk)
	if !leader {
		if res, _ := fl.wait(ctx, -1).(*dataRead); res != nil {
			return res.e, res.gen, false, res.err
		}
		if err := ctx.Err(); err != nil {
			return nil, "", false, err
		}
		e, gen, err := c.readData(ctx, rk, now)
		return e, gen, false, err
	}
	res := &dataRead{err: errors.New("httpcache: read abandoned")}
	defer func() { c.reads.finish(rk, fl, res) }()
	res.e, res.gen, res.err = c.readData(ctx, rk, now)
	return res.e, res.gen, false, res.err
}

// readData reads a value and its generation in one command.
func (c *Cache) readData(ctx context.Context, rk string, now int64) (*entry, string, error) {
	epoch := c.local.epochNow()
	var vals []any
	err := c.call.DoMeasured(ctx, c.tel.ops["get"], func(ctx context.Context) error {
		v, err := c.client.MGet(ctx, rk, c.genKeyOf(rk)).Result()
		vals = v
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("httpcache: get: %w", err)
	}
	if len(vals) != 2 {
		return nil, "", fmt.Errorf("httpcache: get: unexpected reply of %d values", len(vals))
	}
	gen, _ := vals[1].(string)
	raw, ok := vals[0].(string)
	if !ok {
		return nil, gen, ErrNotFound
	}
	e, err := decodeEntry([]byte(raw), -1)
	if err != nil {
		return nil, gen, err
	}
	if e.gone(now) {
		return nil, gen, ErrNotFound
	}
	e.gen = gen
	c.local.put(rk, rk, "", "", e, now, epoch)
	return e, gen, nil
}

// Set stores value under key for ttl (at least a millisecond; at most
// Options.MaxTTL, to which a longer one is cut), indexed under tags for
// InvalidateTags, in one pipeline that also tells every instance's
// in-process tier to drop its copy (write-through). A GetOrLoad of key
// whose load began before Set does not store over it.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration, tags ...string) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("httpcache: set %q: ttl %v is under a millisecond", key, ttl)
	}
	if _, err := c.setData(ctx, c.dataKey(key), value, ttl, cleanTags(tags), nil); err != nil {
		return fmt.Errorf("httpcache: set: %w", err)
	}
	return nil
}

// setData stores value under rk. With gen nil it is a write: the key's
// generation is set anew (so loads that began before cannot store over
// it) and every instance is told. With gen set it is a load's result,
// stored only while the generation is *gen; stored says whether it was.
func (c *Cache) setData(ctx context.Context, rk string, value []byte, ttl time.Duration, tags []string, gen *string) (stored bool, err error) {
	ttl = min(ttl, c.opts.MaxTTL)
	now := c.nowMS()
	e := &entry{body: value, stored: now, lifetime: ttl.Milliseconds(), keep: ttl.Milliseconds(), tags: tags}
	blob := e.encode(c.opts.CompressAbove)
	var calls []scriptCall
	if gen != nil {
		calls = append(calls, scriptCall{setDataScript, []string{rk, c.genKeyOf(rk)}, []any{blob, e.keep, *gen}})
	}
	for _, tag := range tags {
		calls = append(calls, scriptCall{tagAddScript, []string{c.tagKey(tag)}, []any{rk, e.keep}})
	}
	if gen == nil {
		c.local.apply(string(msgKey) + rk)
	}
	err = c.call.DoMeasured(ctx, c.tel.ops["set"], func(ctx context.Context) error {
		replies, err := c.pipeline(ctx, c.client, calls, func(p redis.Pipeliner) {
			if gen == nil {
				p.Set(ctx, c.genKeyOf(rk), newToken(), c.genTTL)
				p.Set(ctx, rk, blob, ttl)
				p.Publish(ctx, c.channel, string(msgKey)+rk)
			}
		})
		if err == nil {
			stored = true
			if gen != nil {
				n, _ := replies[0].(int64)
				stored = n == 1
			}
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if stored {
		c.tel.stored(ctx, len(blob))
	}
	return stored, nil
}

// Delete forgets the values stored under keys, in every instance's
// in-process tier as well; a GetOrLoad of one of them whose load began
// before does not store what it loaded.
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
// stores it for ttl (at most Options.MaxTTL) under tags, and returns it
// (cache-aside). Concurrent misses for one key run load once per instance
// and, through a lock in Redis, once across instances: the others wait up
// to Options.WaitTimeout for the stored value, then load it themselves. A
// load error is returned to the callers that waited for it, and nothing
// is stored. A value loaded while the key was invalidated (Delete,
// InvalidateTags) or Set is returned to the caller but not stored, so it
// cannot undo the invalidation. If Redis fails, GetOrLoad returns what
// load returns: the cache failing is never the caller's error (it is
// logged and reported to Settings.OnError).
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error), tags ...string) ([]byte, error) {
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("httpcache: get or load %q: ttl %v is under a millisecond", key, ttl)
	}
	rk := c.dataKey(key)
	at := time.Now()
	e, gen, err := c.getData(ctx, rk)
	if err == nil {
		return append([]byte(nil), e.body...), nil
	}
	if !errors.Is(err, ErrNotFound) {
		c.report(ctx, err)
		return load(ctx)
	}
	keep := func(v []byte) {
		if !c.mayStore(found{gen: gen, at: at}) {
			return
		}
		if _, err := c.setData(context.WithoutCancel(ctx), rk, v, ttl, cleanTags(tags), &gen); err != nil {
			c.report(ctx, fmt.Errorf("httpcache: set: %w", err))
		}
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
		keep(v)
		return append([]byte(nil), v...), nil
	}
	var polled *entry
	release, ready := c.lead(ctx, rk, func(ctx context.Context) bool {
		// a re-check while waiting for the filler, not a lookup of its own
		e, _, _, err := c.getData0(ctx, rk)
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
	keep(v)
	return append([]byte(nil), v...), nil
}

// pipeline sends the commands extra queues and the script calls on node in
// one pipeline (EVALSHA), and the scripts the server did not have again as
// EVAL. It returns the replies of the script calls (nil for one that
// failed) and the first error.
func (c *Cache) pipeline(ctx context.Context, node redis.Cmdable, calls []scriptCall, extra func(p redis.Pipeliner)) ([]any, error) {
	cmds := make([]*redis.Cmd, len(calls))
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		if extra != nil {
			extra(p)
		}
		for i, cl := range calls {
			cmds[i] = cl.s.EvalSha(ctx, p, cl.keys, cl.args...)
		}
		return nil
	})
	if err != nil {
		// Each call touches the keys of one slot, so the pipeline is
		// Cluster-safe; only NOSCRIPT answers are worth another try.
		var again []int
		for i, cmd := range cmds {
			if e := cmd.Err(); e != nil && e != redis.Nil {
				if !redis.HasErrorPrefix(e, "NOSCRIPT") {
					return replies(cmds), e
				}
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			return replies(cmds), err
		}
		_, err = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range again {
				cl := calls[i]
				cmds[i] = cl.s.Eval(ctx, p, cl.keys, cl.args...)
			}
			return nil
		})
	}
	return replies(cmds), err
}

// replies returns the values of cmds (nil for a failed one).
func replies(cmds []*redis.Cmd) []any {
	out := make([]any, len(cmds))
	for i, cmd := range cmds {
		if cmd != nil && cmd.Err() == nil {
			out[i] = cmd.Val()
		}
	}
	return out
}
