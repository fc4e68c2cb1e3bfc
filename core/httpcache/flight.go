package httpcache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/lock"
)

// flightGroup collapses concurrent misses for one key in this instance:
// the first caller leads and the others wait for what it shares.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one miss in progress. val is set before done is closed.
type flight struct {
	done chan struct{}
	val  any
}

func (g *flightGroup) init() { g.m = map[string]*flight{} }

// join returns the flight in progress for key, or starts one that the
// caller leads (lead true) and must finish.
func (g *flightGroup) join(key string) (f *flight, lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// finish shares val with the waiters of f and forgets the flight.
func (g *flightGroup) finish(key string, f *flight, val any) {
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	g.mu.Unlock()
	f.val = val
	close(f.done)
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

// lead makes this instance the one that produces the result named name,
// across instances: it obtains the fill lock (FillTimeout). While another
// instance holds it, lead polls, with poll, for the result that instance
// stores, until it appears (ready), the lock frees up, or WaitTimeout
// passes; once it holds the lock it polls once more, as a previous
// holder may have stored the result since the caller looked it up. release is nil when no lock is
// held: the result appeared, the wait ran out, or Redis failed (the
// caller then runs without the lock: a cache failure never stops a
// request).
func (c *Cache) lead(ctx context.Context, name string, poll func(ctx context.Context) bool) (release func(), ready bool) {
	lockName := "hc:" + c.opts.Name + ":" + keys.Hash(name)
	deadline := time.Now().Add(c.opts.WaitTimeout)
	pause := pollFirst
	for {
		l, err := c.locker.Obtain(ctx, lockName, c.opts.FillTimeout, nil)
		if err == nil {
			release = func() {
				ctx := context.WithoutCancel(ctx)
				if err := l.Release(ctx); err != nil && !errors.Is(err, lock.ErrNotHeld) {
					c.report(ctx, err)
				}
			}
			if poll(ctx) {
				release()
				return nil, true
			}
			return release, false
		}
		if !errors.Is(err, lock.ErrNotObtained) {
			c.report(ctx, err)
			return nil, false
		}
		left := time.Until(deadline)
		if c.opts.WaitTimeout < 0 || left <= 0 {
			return nil, false
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false
		case <-t.C:
		}
		pause = min(pause*2, pollMax)
		if poll(ctx) {
			return nil, true
		}
	}
}
