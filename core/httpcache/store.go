package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// found is what a lookup found for a request.
type found struct {
	// exists: the URL has something stored (some variant).
	exists bool
	// vary is the URL's Vary names (valid when exists).
	vary string
	// field is the variant's hash field the request selects.
	field string
	// e is the selected variant, nil when missing or past its retention.
	e *entry
	// local: e came from the in-process tier.
	local bool
}

// readResult is what one Redis read shares with the lookups that waited
// for it.
type readResult struct {
	f   found
	err error
}

// lookup finds the variant of t that a request with header h selects: in
// the in-process tier, else in Redis with one round trip (two when the
// URL's Vary names changed since this instance last saw them). Concurrent
// lookups of one variant in this instance share one Redis read.
func (c *Cache) lookup(ctx context.Context, t target, h http.Header, now int64) (found, error) {
	hint, known := c.hints.get(t.key)
	if !known {
		return c.read(ctx, t, h, "*", now)
	}
	field := variantField(hint, h)
	if e := c.local.get(t.key+"\x00"+field, now); e != nil {
		return found{exists: true, vary: hint, field: field, e: e, local: true}, nil
	}
	rkey := t.key + "\x00" + field
	fl, leader := c.reads.join(rkey)
	if !leader {
		if res, _ := fl.wait(ctx, -1).(*readResult); res != nil && (res.err != nil || !res.f.exists || res.f.field == variantField(res.f.vary, h)) {
			return res.f, res.err
		}
		return c.read(ctx, t, h, hint, now)
	}
	res := &readResult{}
	defer func() { c.reads.finish(rkey, fl, res) }()
	res.f, res.err = c.read(ctx, t, h, hint, now)
	return res.f, res.err
}

// read is lookup's Redis read, with the Vary names hint ("*": unknown).
func (c *Cache) read(ctx context.Context, t target, h http.Header, hint string, now int64) (found, error) {
	epoch := c.local.epochNow()
	for attempt := 0; ; attempt++ {
		var reply []any
		err := c.call.DoMeasured(ctx, c.tel.ops["lookup"], func(ctx context.Context) error {
			v, err := lookupScript.Run(ctx, c.client, []string{t.key}, lookupArgs(hint, h)...).Slice()
			reply = v
			return err
		})
		if errors.Is(err, redis.Nil) {
			return found{}, nil
		}
		if err != nil {
			return found{}, err
		}
		vary, _ := reply[0].(string)
		if len(reply) == 1 {
			if attempt > 0 {
				return found{}, fmt.Errorf("httpcache: the Vary names of %q changed twice during one lookup", t.url)
			}
			hint = vary
			continue
		}
		c.hints.set(t.key, vary)
		f := found{exists: true, vary: vary, field: variantField(vary, h)}
		raw, _ := reply[1].(string)
		if raw == "" {
			return f, nil
		}
		e, err := decodeEntry([]byte(raw), c.opts.MaxBodyBytes)
		if err != nil {
			// a miss, not a failure: the handler's answer replaces it
			c.report(ctx, fmt.Errorf("httpcache: %s: %w", t.url, err))
			return f, nil
		}
		if e.gone(now) {
			return f, nil
		}
		f.e = e
		c.local.put(t.key+"\x00"+f.field, t.key, t.url, t.path, e, now, epoch)
		return f, nil
	}
}

// storeEntry stores e as the variant field of t, and indexes it under its
// tags, in one pipeline.
func (c *Cache) storeEntry(ctx context.Context, t target, vary, field string, e *entry) error {
	blob := e.encode(c.opts.CompressAbove)
	keep := strconv.FormatInt(e.keep, 10)
	calls := []scriptCall{{storeScript, []string{t.key}, []any{vary, field, blob, keep, t.url, c.opts.MaxVariants}}}
	for _, tag := range e.tags {
		calls = append(calls, scriptCall{tagAddScript, []string{c.tagKey(tag)}, []any{t.key, keep}})
	}
	err := c.call.DoMeasured(ctx, c.tel.ops["store"], func(ctx context.Context) error { return c.runScripts(ctx, calls) })
	if err == nil {
		c.hints.set(t.key, vary)
		c.tel.stored(ctx, len(blob))
	}
	return err
}

// tagKey returns the key of a tag's index. It has the tag as its hash tag,
// so each index lives in one slot whatever the slots of its entries.
func (c *Cache) tagKey(tag string) string { return c.space.Tagged(tag, ":t") }

// scriptCall is one script call of a pipeline.
type scriptCall struct {
	s    *redis.Script
	keys []string
	args []any
}

// runScripts runs calls in one pipeline (see pipeline); a single call is
// sent on its own, with EVALSHA falling back to EVAL.
func (c *Cache) runScripts(ctx context.Context, calls []scriptCall) error {
	if len(calls) == 1 {
		cl := calls[0]
		return cl.s.Run(ctx, c.client, cl.keys, cl.args...).Err()
	}
	return c.pipeline(ctx, calls, nil)
}
