package httpcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/script"
)

// ErrNotFound is returned by Get when nothing is stored under the key.
var ErrNotFound = errors.New("httpcache: not found")

// dataKey returns the Redis key of an application value; the key is
// escaped (or hashed, when long) and is its own hash tag.
func (c *Cache) dataKey(key string) string { return c.space.Tagged(key, ":d") }

// isDataKey reports whether rk is the key of a value (not a URL's).
func isDataKey(rk string) bool { return strings.HasSuffix(rk, ":d") }

// markerByte starts a load's marker (see GetOrLoad), which a value's key
// holds while the value is loaded; a packed entry starts with
// codecVersion.
const markerByte = 0

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

// readData reads a value in one command.
func (c *Cache) readData(ctx context.Context, rk string, now int64) (*entry, error) {
	epoch := c.local.epochNow()
	// a script (getdata.lua), so that it reads the master
	v, err := c.sendScript(ctx, c.tel.ops["get"], getDataScript, []string{rk})
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("httpcache: get: %w", err)
	}
	raw, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("httpcache: get: getdata.lua answered %T", v)
	}
	return c.decodeData(rk, raw, now, epoch)
}

// decodeData decodes raw, the value stored under rk (ErrNotFound for a
// load's marker or a value past its retention), and keeps it in the
// in-process tier.
func (c *Cache) decodeData(rk, raw string, now int64, epoch uint64) (*entry, error) {
	if raw == "" || raw[0] == markerByte {
		return nil, ErrNotFound
	}
	e, err := decodeEntry(bytesOf(raw), -1)
	if err != nil {
		return nil, err
	}
	if e.gone(now) {
		return nil, ErrNotFound
	}
	c.local.put(rk, rk, "", "", e, now, epoch)
	return e, nil
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
	rk := c.dataKey(key)
	e, blob := c.dataEntry(value, ttl, cleanTags(tags))
	var calls []scriptCall
	for _, tag := range e.tags {
		calls = append(calls, scriptCall{tagAddScript, []string{c.tagKey(tag)}, []any{rk, e.keep}})
	}
	c.local.apply(string(msgKey) + rk)
	err := c.call.DoMeasured(ctx, c.tel.ops["set"], func(ctx context.Context) error {
		// The SET replaces the marker of a load in progress, which then
		// cannot store (see setdata.lua).
		_, err := c.pipeline(ctx, c.client, calls, func(p redis.Pipeliner) {
			p.Set(ctx, rk, blob, time.Duration(e.keep)*time.Millisecond)
			p.Publish(ctx, c.channel, string(msgKey)+rk)
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("httpcache: set: %w", err)
	}
	c.tel.stored(ctx, len(blob))
	return nil
}

// dataEntry returns the entry of an application value kept for ttl (at
// most MaxTTL), and its packed form.
func (c *Cache) dataEntry(value []byte, ttl time.Duration, tags []string) (*entry, []byte) {
	ttl = min(ttl, c.opts.MaxTTL)
	e := &entry{body: value, stored: c.nowMS(), lifetime: ttl.Milliseconds(), keep: ttl.Milliseconds(), tags: tags}
	return e, e.encode(c.opts.CompressAbove)
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

// dataResult is what a GetOrLoad call shares with the calls for the same
// key that waited for it.
type dataResult struct {
	value   []byte
	err     error
	outcome string // a request outcome, for telemetry
}

// GetOrLoad returns the value stored under key, or loads it with load,
// stores it for ttl (at most Options.MaxTTL) under tags, and returns it
// (cache-aside). A hit is one round trip (none from the in-process tier),
// and so is the lookup of a miss, which also makes this call the one that
// loads, across instances: it leaves a marker in the value's place, with
// Options.FillTimeout as its TTL, which the store replaces (a second round
// trip). Concurrent calls for one key in this instance share that one
// call; calls in other instances that find the marker wait up to
// Options.WaitTimeout for the stored value, then load it themselves
// (without storing it). A load error is returned to the callers that
// waited for it, and nothing is stored. A value loaded while the key was
// invalidated (Delete, InvalidateTags) or Set is returned to the caller
// but not stored, so it cannot undo the invalidation; nor is one whose
// load outlived its marker. If Redis fails, GetOrLoad returns what load
// returns: the cache failing is never the caller's error (it is logged and
// reported to Settings.OnError).
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error), tags ...string) ([]byte, error) {
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("httpcache: get or load %q: ttl %v is under a millisecond", key, ttl)
	}
	rk := c.dataKey(key)
	if c.local != nil { // (no clock reading without the tier)
		if e := c.local.get(rk, c.nowMS()); e != nil {
			c.tel.request(ctx, outcomeLocalHit)
			return append([]byte(nil), e.body...), nil
		}
	}
	fl, leader := c.flights.join(rk)
	if !leader {
		// A hit is shared as soon as the leader has it; a miss is
		// waited for up to WaitTimeout.
		res := fl.dataWait(ctx, c.opts.WaitTimeout)
		if res == nil {
			c.tel.request(ctx, outcomeMiss)
			return load(ctx)
		}
		c.tel.dataOutcome(ctx, res.outcome)
		if res.err != nil {
			return nil, res.err
		}
		return append([]byte(nil), res.value...), nil
	}
	res := &fl.data // shared with the followers once finished
	res.err, res.outcome = errLoaderPanicked, outcomeMiss
	defer func() { c.flights.finish(rk, fl, res) }()
	res.value, res.outcome, res.err = c.getOrLoad(ctx, rk, ttl, load, tags, fl)
	c.tel.dataOutcome(ctx, res.outcome)
	if res.err != nil {
		return nil, res.err
	}
	return append([]byte(nil), res.value...), nil
}

// errLoaderPanicked is what the calls that waited for a GetOrLoad whose
// loader panicked get.
var errLoaderPanicked = errors.New("httpcache: the loader panicked")

// getOrLoad is GetOrLoad's leader: it reads the value, leaving this
// instance's marker when there is none (readLock), and loads and stores
// it, or waits for the instance whose marker it found. outcome is the
// telemetry outcome of the call.
func (c *Cache) getOrLoad(ctx context.Context, rk string, ttl time.Duration, load func(ctx context.Context) ([]byte, error), tags []string, fl *flight) (value []byte, outcome string, err error) {
	e, mine, err := c.readLock(ctx, rk)
	if err == nil && e != nil {
		return e.body, outcomeHit, nil
	}
	c.flights.goSlow(fl)
	if err != nil {
		c.report(ctx, err)
		v, err := load(ctx)
		return v, outcomeBypass, err
	}
	if !mine && c.opts.WaitTimeout >= 0 {
		// Another instance loads it: wait for its value, or for its
		// marker to go (it failed, or was invalidated).
		for wait := c.poller(); !mine && wait.sleep(ctx); {
			if e, mine, err = c.readLock(ctx, rk); err != nil {
				c.report(ctx, err)
				break
			}
			if e != nil {
				return e.body, outcomeMiss, nil
			}
		}
	}
	if !mine {
		v, err := load(ctx) // not stored: the marker is another's
		return v, outcomeMiss, err
	}
	lock := &fillLock{key: rk, token: c.marker}
	defer c.unlock(ctx, lock) // unless the store released it
	v, err := load(ctx)
	if err != nil {
		return nil, outcomeMiss, err
	}
	c.storeLoaded(context.WithoutCancel(ctx), lock, v, ttl, cleanTags(tags))
	return v, outcomeMiss, nil
}

// readLock reads the value of rk in one command, SET rk marker NX GET PX
// FillTimeout: a hit returns the entry; a miss leaves this instance's
// marker in its place (mine true: this call loads the value), unless
// another instance's marker is there. A server that refuses the write
// (out of memory, say) is read with a plain GET instead, and no marker is
// left; one that refuses NX with GET (before Redis 7.0) is asked with
// readlock.lua from then on.
//
// The marker (Cache.marker) is the same for every key and every call of
// this instance: calls for one key share one flight here, so no two of
// its loads of one key can hold a marker at once.
func (c *Cache) readLock(ctx context.Context, rk string) (e *entry, mine bool, err error) {
	epoch := c.local.epochNow()
	now := c.nowMS()
	var raw string
	if c.noSetGet.Load() {
		err = c.call.DoMeasured(ctx, c.tel.ops["get"], func(ctx context.Context) error {
			v, err := readLockScript.Run(ctx, c.client, []string{rk}, c.marker, c.fillMS).Text()
			raw = v
			return err
		})
	} else {
		cmd := redis.NewCmd(ctx, argSet, rk, c.markerArg, argPX, c.fillMSArg, argNX, argGet)
		if err = c.send(ctx, c.tel.ops["get"], cmd); err == nil {
			raw, err = cmd.Text()
		}
	}
	switch {
	case errors.Is(err, redis.Nil):
		return nil, true, nil
	case err != nil && isServerError(err):
		if !c.noSetGet.Load() && strings.Contains(err.Error(), "syntax error") {
			c.noSetGet.Store(true)
			return c.readLock(ctx, rk)
		}
		// The server refused to write: read without a marker.
		e, gerr := c.readData(ctx, rk, now)
		if errors.Is(gerr, ErrNotFound) {
			return nil, false, fmt.Errorf("httpcache: get: %w", err)
		}
		return e, false, gerr
	case err != nil:
		return nil, false, fmt.Errorf("httpcache: get: %w", err)
	}
	if raw == c.marker {
		// This instance's own marker: this call's, set by an attempt
		// that go-redis retried, or left by a load whose release failed
		// (no other load of the key runs here).
		return nil, true, nil
	}
	e, err = c.decodeData(rk, raw, now, epoch)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil // another instance's marker, or gone
	}
	return e, false, err
}

// The constant arguments of readLock's and readData's commands, boxed
// once.
var argSet, argPX, argNX, argGet any = "set", "px", "nx", "get"

// isServerError reports whether err is an error reply from the server (not
// a network failure or a deadline).
func isServerError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil) && !errors.Is(err, context.DeadlineExceeded)
}

// storeLoaded stores value, which a load holding lock (a marker in the
// value's key) produced, in place of the marker, and indexes it under
// tags, in one pipeline (see storeEntry); nothing is stored when the
// marker is gone. Failures are reported.
func (c *Cache) storeLoaded(ctx context.Context, lock *fillLock, value []byte, ttl time.Duration, tags []string) {
	e, blob := c.dataEntry(value, ttl, tags)
	calls := []scriptCall{{setDataScript, []string{lock.key}, []any{blob, e.keep, lock.token}}}
	for _, tag := range tags {
		calls = append(calls, scriptCall{tagAddScript, []string{c.tagKey(tag)}, []any{lock.key, e.keep}})
	}
	var stored, ran atomic.Bool // see storeEntry
	var err error
	if len(calls) == 1 {
		var v any
		v, err = c.sendScript(ctx, c.tel.ops["set"], setDataScript, calls[0].keys, calls[0].args...)
		n, ok := v.(int64)
		ran.Store(ok)
		stored.Store(n == 1)
	} else {
		err = c.call.DoMeasured(ctx, c.tel.ops["set"], func(ctx context.Context) error {
			replies, err := c.runScripts(ctx, c.client, calls)
			n, ok := replies[0].(int64)
			ran.Store(ok)
			stored.Store(n == 1)
			return err
		})
	}
	if ran.Load() {
		lock.released = true // replaced by the value, or gone
	}
	if err != nil {
		c.report(ctx, fmt.Errorf("httpcache: set: %w", err))
	}
	if stored.Load() {
		c.tel.stored(ctx, len(blob))
	}
}

// pipeline sends the commands extra queues and the script calls on node in
// one pipeline (EVALSHA). It returns the replies of the script calls (nil
// for one that failed) and the first error. The script calls are NoRetry,
// so go-redis never re-sends the pipeline once it may have reached the
// server; a call that certainly did not run is sent again here, on its
// own: as EVAL when the server did not have the script (NOSCRIPT), as it
// was when it could get no connection (see package script). On a Cluster
// the others may have run on their nodes, so they are never re-sent.
func (c *Cache) pipeline(ctx context.Context, node redis.Cmdable, calls []scriptCall, extra func(p redis.Pipeliner)) ([]any, error) {
	cmds := make([]*redis.Cmd, len(calls))
	eval := make([]bool, len(calls)) // send as EVAL
	todo := make([]int, len(calls))
	for i := range todo {
		todo[i] = i
	}
	unsent := 0
	for first := true; ; first = false {
		_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			if extra != nil && first {
				extra(p)
			}
			for _, i := range todo {
				cl := calls[i]
				var cmd script.Cmd
				if eval[i] {
					cmd = cl.s.Eval(ctx, cl.keys, cl.args...)
				} else {
					cmd = cl.s.EvalSha(ctx, cl.keys, cl.args...)
				}
				_ = p.Process(ctx, cmd)
				cmds[i] = cmd.Cmd
			}
			return nil
		})
		if err == nil {
			return replies(cmds), nil
		}
		// Each call touches the keys of one slot, so the pipeline is
		// Cluster-safe.
		var again []int
		lost := false
		for _, i := range todo {
			switch e := cmds[i].Err(); {
			case e == nil || e == redis.Nil:
			case script.IsNoScript(e) && !eval[i]:
				eval[i] = true
				again = append(again, i)
			case script.Unsent(e) && unsent < script.UnsentRetries:
				lost = true
				again = append(again, i)
			default:
				return replies(cmds), e
			}
		}
		if len(again) == 0 || ctx.Err() != nil {
			return replies(cmds), err
		}
		if lost {
			unsent++
		}
		todo = again
	}
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
