package httpcache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
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
// holder may have stored the result since the caller looked it up.
// release is nil when no lock is held: the result appeared, the wait ran
// out, or Redis failed (the caller then runs without the lock: a cache
// failure never stops a request).
func (c *Cache) lead(ctx context.Context, name string, poll func(ctx context.Context) bool) (release func(), ready bool) {
	deadline := time.Now().Add(c.opts.WaitTimeout)
	pause := pollFirst
	for {
		release, err := c.obtain(ctx, name)
		if err == nil {
			if poll(ctx) {
				release()
				return nil, true
			}
			return release, false
		}
		if !errors.Is(err, errLocked) {
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

// errLocked is obtain's answer when another holds the lock.
var errLocked = errors.New("httpcache: the fill lock is held")

// obtain takes the fill lock named name for FillTimeout: a key holding a
// random token, set only if absent, with that TTL and nothing else (no
// fencing counter that would outlive it), so a miss leaves nothing in Redis
// for longer than FillTimeout. release deletes it if it still holds this
// token. The error is errLocked when another holds it.
func (c *Cache) obtain(ctx context.Context, name string) (release func(), err error) {
	sum := sha256.Sum256([]byte(name))
	key := c.space.Tagged(hex.EncodeToString(sum[:16]), ":l")
	token := newToken()
	var ok bool
	err = c.call.DoMeasured(ctx, c.tel.ops["lock"], func(ctx context.Context) error {
		v, err := c.client.SetNX(ctx, key, token, c.opts.FillTimeout).Result()
		ok = v
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("httpcache: fill lock: %w", err)
	}
	if !ok {
		return nil, errLocked
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		err := c.call.DoMeasured(ctx, c.tel.ops["lock"], func(ctx context.Context) error {
			return unlockScript.Run(ctx, c.client, []string{key}, token).Err()
		})
		if err != nil {
			c.report(ctx, fmt.Errorf("httpcache: releasing the fill lock: %w", err))
		}
	}, nil
}

// newToken returns 16 random hex digits, for lock owners and generations.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
