package httpcache

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/script"
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
	// gen is the URL's generation as the lookup found it ("" for none): a
	// fill stores only while it is unchanged.
	gen string
	// at is when the lookup was sent (time.Now, monotonic), for fillAge.
	at time.Time
	// lock is the fill lock the lookup took (see lookup.lua), when the
	// request asked for one and nothing it could use was stored; the
	// request that made the read owns it (the requests that shared the
	// read see lockHeld instead).
	lock *fillLock
	// lockState says what the lookup did about the fill lock.
	lockState int8
}

// What a lookup did about the fill lock.
const (
	lockNone   int8 = iota // took none (not asked, or a variant is stored)
	lockMine               // took it: found.lock
	lockHeld               // another request (here or in another instance) holds it
	lockFailed             // Redis refused it (reported)
)

// fillAge bounds how long after its lookup a fill may store when the
// lookup found no generation: an invalidation after the lookup leaves a
// generation that lives genTTL, and the fill must store (or be refused)
// while it lives.
func (c *Cache) fillAge() time.Duration { return c.genTTL / 2 }

// mayStore reports whether a fill whose lookup found f may still try to
// store: the store script refuses it if an invalidation came since.
func (c *Cache) mayStore(f found) bool {
	return f.gen != "" || time.Since(f.at) < c.fillAge()
}

// readResult is what one Redis read shares with the lookups that waited
// for it.
type readResult struct {
	f   found
	err error
}

// lookup finds the variant of t that a request with selector s selects:
// in the in-process tier, else in Redis with one round trip (two when the
// URL's Vary names changed since this instance last saw them). With lock
// set, a lookup that finds nothing the request could use takes the fill
// lock in the same round trip (see lookup.lua). Concurrent lookups of one
// variant in this instance share one Redis read; so do concurrent lookups
// of a URL whose Vary names this instance does not know yet, those of
// another variant following with a read of their own.
func (c *Cache) lookup(ctx context.Context, t target, s selector, now int64, lock bool) (found, error) {
	hint, known := c.hints.get(t.key)
	rkey := t.key + "\x00*"
	if known {
		field := variantField(hint, s)
		if e := c.local.get(t.key+"\x00"+field, now); e != nil {
			return found{exists: true, vary: hint, field: field, e: e, local: true, gen: e.gen, at: time.Now()}, nil
		}
		rkey = t.key + "\x00" + field
	} else {
		hint = "*"
	}
	fl, leader := c.reads.join(rkey)
	if !leader {
		res, _ := fl.wait(ctx, -1).(*readResult)
		if res != nil && (res.err != nil || !res.f.exists || res.f.field == variantField(res.f.vary, s)) {
			return res.f, res.err
		}
		if res != nil {
			hint = res.f.vary // another variant of the names the read found
		}
		return c.read(ctx, t, s, hint, now, lock)
	}
	res := &readResult{}
	defer func() { c.reads.finish(rkey, fl, res) }()
	f, err := c.read(ctx, t, s, hint, now, lock)
	res.f, res.err = f, err
	if f.lockState == lockMine {
		// the lock is this request's; the others see it held
		res.f.lock, res.f.lockState = nil, lockHeld
	}
	return f, err
}

// read is lookup's Redis read, with the Vary names hint ("*": unknown).
func (c *Cache) read(ctx context.Context, t target, s selector, hint string, now int64, lock bool) (found, error) {
	epoch := c.local.epochNow()
	at := time.Now()
	ks := []string{t.key}
	var token string
	if lock {
		token = c.nextToken()
		ks = append(ks, c.lockKey(t, "?", s.base(), s.session), "")
	}
	for attempt := 0; ; attempt++ {
		var field string // the variant the hint selects
		if hint != "*" {
			field = variantField(hint, s)
		}
		if lock {
			ks[2] = ks[1] // not used when the hint is unknown
			if hint != "*" {
				ks[2] = c.lockKey(t, field)
			}
		}
		v, err := c.sendScript(ctx, c.tel.ops["lookup"], lookupScript, ks, lookupArgs(hint, s, token, c.fillMSArg, field)...)
		if err != nil {
			return found{}, err
		}
		reply, _ := v.([]any)
		if len(reply) != 2 && len(reply) != 4 {
			return found{}, fmt.Errorf("httpcache: lookup: unexpected reply of %d values", len(reply))
		}
		gen, _ := reply[0].(string)
		vary, exists := reply[1].(string)
		if len(reply) == 2 {
			if attempt > 0 {
				return found{}, fmt.Errorf("httpcache: the Vary names of %q changed twice during one lookup", t.url)
			}
			hint = vary
			continue
		}
		f := found{gen: gen, at: at}
		switch l := reply[3].(type) {
		case int64:
			switch l {
			case 1:
				f.lockState = lockMine
				f.lock = &fillLock{key: ks[1], token: token}
				if exists {
					f.lock.key = ks[2]
				}
			case 0:
				f.lockState = lockHeld
			}
		case string:
			f.lockState = lockFailed
			c.report(ctx, fmt.Errorf("httpcache: fill lock: %s", l))
		}
		if !exists {
			return f, nil
		}
		if vary != hint {
			c.hints.set(t.key, vary)
			field = variantField(vary, s)
		}
		f.exists, f.vary, f.field = true, vary, field
		raw, _ := reply[2].(string)
		if raw == "" {
			return f, nil
		}
		e, err := decodeEntry(bytesOf(raw), c.opts.MaxBodyBytes)
		if err != nil {
			// a miss, not a failure: the handler's answer replaces it
			c.report(ctx, fmt.Errorf("httpcache: %s: %w", t.url, err))
			return f, nil
		}
		if e.gone(now) {
			return f, nil
		}
		e.gen = gen
		f.e = e
		c.local.put(t.key+"\x00"+f.field, t.key, t.url, t.path, e, now, epoch)
		return f, nil
	}
}

// storeEntry stores e as the variant field of t, and indexes it under its
// tags, in one pipeline (one round trip on one server; on a Cluster, the
// tag indexes in other slots are written at the same time, on their own
// nodes), unless the URL's generation is no longer gen (an invalidation
// came since the lookup that found gen). It releases lock (nil: none) in
// the same script. It reports whether it stored.
func (c *Cache) storeEntry(ctx context.Context, t target, vary, field string, e *entry, gen string, lock *fillLock) (bool, error) {
	blob := e.encode(c.opts.CompressAbove)
	keep := strconv.FormatInt(e.keep, 10)
	lockKey, token := t.key, "" // (no lock: a key of the slot, not read)
	if lock != nil && !lock.released {
		lockKey, token = lock.key, lock.token
	}
	calls := []scriptCall{{storeScript, []string{t.key, lockKey}, []any{vary, field, blob, keep, t.url, c.opts.MaxVariants, gen, token}}}
	for _, tag := range e.tags {
		calls = append(calls, scriptCall{tagAddScript, []string{c.tagKey(tag)}, []any{t.key, keep}})
	}
	// Atomic: a call abandoned at its deadline (a client without
	// ContextTimeoutEnabled) may still be running when they are read.
	var stored, ran atomic.Bool
	var err error
	if len(calls) == 1 {
		// no tags: a lookup-sized call, which may go out with others
		var v any
		v, err = c.sendScript(ctx, c.tel.ops["store"], storeScript, calls[0].keys, calls[0].args...)
		n, ok := v.(int64)
		ran.Store(ok)
		stored.Store(n == 1)
	} else {
		err = c.call.DoMeasured(ctx, c.tel.ops["store"], func(ctx context.Context) error {
			replies, err := c.runScripts(ctx, c.client, calls)
			n, ok := replies[0].(int64)
			ran.Store(ok)
			stored.Store(n == 1)
			return err
		})
	}
	if ran.Load() && lock != nil {
		lock.released = true // store.lua released it
	}
	if stored.Load() {
		c.hints.set(t.key, vary)
		c.tel.stored(ctx, len(blob))
	}
	return stored.Load(), err
}

// tagKey returns the key of a tag's index. It has the tag as its hash tag,
// so each index lives in one slot whatever the slots of its entries.
func (c *Cache) tagKey(tag string) string { return c.space.Tagged(tag, ":t") }

// scriptCall is one script call of a pipeline.
type scriptCall struct {
	s    *script.Script
	keys []string
	args []any
}

// scriptNode is what scripts run on: the Cache's client, or one master of
// a Cluster.
type scriptNode interface {
	redis.Cmdable
	script.Processor
}

// runScripts runs calls on node in one pipeline (see pipeline), and
// returns their replies; a single call is sent on its own, with EVALSHA
// falling back to EVAL. No call runs twice (see package script).
func (c *Cache) runScripts(ctx context.Context, node scriptNode, calls []scriptCall) ([]any, error) {
	if len(calls) == 1 {
		cl := calls[0]
		v, err := cl.s.Run(ctx, node, cl.keys, cl.args...).Result()
		return []any{v}, err
	}
	return c.pipeline(ctx, node, calls, nil)
}
