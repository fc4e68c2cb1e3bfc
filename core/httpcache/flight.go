package httpcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/script"
)

// flightGroup collapses concurrent misses for one key in this instance:
// the first caller leads and the others wait for what it shares.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one miss in progress. val (or data) is set before done is
// closed; done is made when the first follower joins, so a flight that
// nobody waits for costs one allocation.
type flight struct {
	done chan struct{}
	val  any
	data dataResult // what a GetOrLoad leader shares
	// slow is closed when a GetOrLoad leader's read missed (it loads,
	// or waits for another instance); made, like done, for followers.
	slow   chan struct{}
	isSlow bool
}

func (g *flightGroup) init() { g.m = map[string]*flight{} }

// join returns the flight in progress for key, or starts one that the
// caller leads (lead true) and must finish.
func (g *flightGroup) join(key string) (f *flight, lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		if f.done == nil {
			f.done = make(chan struct{})
		}
		if f.slow == nil {
			f.slow = make(chan struct{})
			if f.isSlow {
				close(f.slow)
			}
		}
		return f, false
	}
	f = &flight{}
	g.m[key] = f
	return f, true
}

// finish shares val with the waiters of f and forgets the flight.
func (g *flightGroup) finish(key string, f *flight, val any) {
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	f.val = val
	done := f.done // no follower can join from now on
	g.mu.Unlock()
	if done != nil {
		close(done)
	}
}

// goSlow tells the followers of f that its leader's read missed: they
// wait for it a bounded time from then on (see dataWait).
func (g *flightGroup) goSlow(f *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !f.isSlow {
		f.isSlow = true
		if f.slow != nil {
			close(f.slow)
		}
	}
}

// dataWait waits for f, a GetOrLoad flight, until it is done or ctx ends;
// once its leader goes slow (goSlow), for d at most (d < 0: no limit).
// It returns the leader's result, or nil.
func (f *flight) dataWait(ctx context.Context, d time.Duration) *dataResult {
	select {
	case <-f.done:
		return &f.data
	case <-ctx.Done():
		return nil
	case <-f.slow:
	}
	if v, _ := f.wait(ctx, d).(*dataResult); v != nil {
		return v
	}
	return nil
}

// wait waits for f until it is done, ctx ends or d passes (d < 0: no
// limit but ctx). It returns f's value, or nil.
func (f *flight) wait(ctx context.Context, d time.Duration) any {
	var expired <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-f.done:
		return f.val
	case <-ctx.Done():
	case <-expired:
	}
	return nil
}

// Polling for a result another instance produces: the first pause, and
// the longest.
const (
	pollFirst = 5 * time.Millisecond
	pollMax   = 100 * time.Millisecond
)

// poller paces a wait for what another instance produces: pauses from
// pollFirst, doubling up to pollMax, for WaitTimeout in all.
type poller struct {
	deadline time.Time
	pause    time.Duration
	forever  bool // WaitTimeout negative: no waiting at all
}

func (c *Cache) poller() poller {
	return poller{deadline: time.Now().Add(c.opts.WaitTimeout), pause: pollFirst, forever: c.opts.WaitTimeout < 0}
}

// sleep pauses before the next poll; it returns false, at once, when the
// wait is over (WaitTimeout passed, or ctx ended).
func (p *poller) sleep(ctx context.Context) bool {
	left := time.Until(p.deadline)
	if p.forever || left <= 0 {
		return false
	}
	t := time.NewTimer(min(p.pause, left))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	p.pause = min(p.pause*2, pollMax)
	return true
}

// fillLock is a lock that makes this instance the one that produces a
// response or a value, across instances: a key holding the holder's token
// for Options.FillTimeout (HTTP, see lookup.lua), or a load's marker in
// the value's own key (GetOrLoad, see setdata.lua). It belongs to one
// request, which releases it: with the store (store.lua, setdata.lua),
// else with unlock.lua.
type fillLock struct {
	key, token string
	released   bool
}

// lockOf returns a lock on key with a token no other lock has.
func (c *Cache) lockOf(key string) *fillLock { return &fillLock{key: key, token: c.nextToken()} }

// nextToken returns a token unique to this process and call: a random
// prefix drawn once per Cache, then a counter. It names a lock's owner; it
// is no secret.
func (c *Cache) nextToken() string {
	var b [48]byte
	return string(strconv.AppendUint(append(b[:0], c.tokenBase...), c.tokenSeq.Add(1), 36))
}

// errLocked is obtain's answer when another holds the lock.
var errLocked = errors.New("httpcache: the fill lock is held")

// obtain takes the fill lock key for FillTimeout: a key holding a token,
// set only if absent, with that TTL and nothing else (no fencing counter
// that would outlive it), so a miss leaves nothing in Redis for longer
// than FillTimeout. The error is errLocked when another holds it. The SET
// is NoRetry (see package script): re-sent after its reply was lost, it
// would find this very lock and report it held by another.
func (c *Cache) obtain(ctx context.Context, key string) (*fillLock, error) {
	l := c.lockOf(key)
	var ok bool
	err := c.call.DoMeasured(ctx, c.tel.ops["lock"], func(ctx context.Context) error {
		_, err := script.SendOnce(ctx, c.client, func() script.Cmd {
			return script.Cmd{Cmd: redis.NewCmd(ctx, argSet, l.key, l.token, argPX, c.fillMSArg, argNX)}
		})
		ok = err == nil
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("httpcache: fill lock: %w", err)
	}
	if !ok {
		return nil, errLocked
	}
	return l, nil
}

// unlock releases l (nil: none) unless a store released it already.
func (c *Cache) unlock(ctx context.Context, l *fillLock) {
	if l == nil || l.released {
		return
	}
	l.released = true
	ctx = context.WithoutCancel(ctx)
	err := c.call.DoMeasured(ctx, c.tel.ops["lock"], func(ctx context.Context) error {
		return unlockScript.Run(ctx, c.client, []string{l.key}, l.token).Err()
	})
	if err != nil {
		c.report(ctx, fmt.Errorf("httpcache: releasing the fill lock: %w", err))
	}
}

// newTokenBase returns the random start of a Cache's lock tokens.
func newTokenBase() string { return newToken() + "." }

// newToken returns 16 random hex digits, for generations.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
