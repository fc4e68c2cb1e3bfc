package ratelimit_test

import (
	"sync"
	"time"
)

// base is aligned to an hour, so windows of a second, a minute or an hour
// start exactly there.
var base = time.Unix(1_800_000_000, 0)

// fakeClock is a controlled clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: base} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(d time.Duration) {
	c.mu.Lock()
	c.now = base.Add(d)
	c.mu.Unlock()
}
