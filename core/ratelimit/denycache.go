package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// denyCache remembers, per key, that Redis denied a request of some cost
// until some instant, so that a flood from one client is answered locally.
//
// It is exact: an entry is made from the instant the Redis call was sent
// (never later than the moment Redis decided), plus the RetryAfter Redis
// returned, which is the earliest time a request of that cost can pass,
// since other instances can only consume more, never less. Only requests of
// the same cost are answered from an entry, so the RetryAfter they get is
// the one Redis computed; a request of another cost goes to Redis. The one
// thing that can make an entry wrong is a Reset made on another instance;
// see Limiter.Reset. Remaining in a cached answer is what Redis last said,
// so it may overstate what other instances have left since.
type denyCache struct {
	shards [denyShards]denyShard
	max    int // entries per shard
	seed   maphash.Seed
}

const denyShards = 16

type denyShard struct {
	mu sync.RWMutex
	m  map[string]denyEntry
}

type denyEntry struct {
	until time.Time
	at    time.Time // when the Redis call that produced res was sent
	cost  int
	res   Result
}

func newDenyCache(size int) *denyCache {
	per := (size + denyShards - 1) / denyShards
	if per < 1 {
		per = 1
	}
	c := &denyCache{max: per, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]denyEntry)
	}
	return c
}

func (c *denyCache) shard(key string) *denyShard {
	return &c.shards[maphash.String(c.seed, key)%denyShards]
}

// get returns the cached denial for a request of cost at now, with its
// durations brought up to date.
func (c *denyCache) get(key string, cost int, now time.Time) (Result, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || cost != e.cost || !now.Before(e.until) {
		return Result{}, false
	}
	elapsed := now.Sub(e.at)
	res := e.res
	res.Local = true
	res.RetryAfter = e.until.Sub(now)
	res.ResetAfter = max(res.ResetAfter-elapsed, 0)
	res.States = make([]State, len(e.res.States))
	for i, st := range e.res.States {
		if st.RetryAfter > 0 {
			st.RetryAfter = max(st.RetryAfter-elapsed, time.Nanosecond)
		}
		st.ResetAfter = max(st.ResetAfter-elapsed, 0)
		res.States[i] = st
	}
	return res, true
}

// put records that a request of cost sent at `at` was denied until until.
func (c *denyCache) put(key string, cost int, at, until time.Time, res Result) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.max {
		s.evict(at, c.max)
	}
	s.m[key] = denyEntry{until: until, at: at, cost: cost, res: res}
}

// evict makes room: expired entries go first, then, if the shard is still
// full, arbitrary ones (map order is random), a tenth of it. Losing an entry
// costs a Redis call, never a wrong answer.
func (s *denyShard) evict(now time.Time, max int) {
	for k, e := range s.m {
		if !now.Before(e.until) {
			delete(s.m, k)
		}
	}
	for k := range s.m {
		if len(s.m) < max-max/10 {
			break
		}
		delete(s.m, k)
	}
}

// forget drops the entry of key made by a call sent no later than sent:
// Redis admitted a request for key sent then, after which what such an
// entry remembers (Remaining) is stale. An entry from a call sent later is
// newer than the admission and stays.
func (c *denyCache) forget(key string, sent time.Time) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || e.at.After(sent) {
		return
	}
	s.mu.Lock()
	if e, ok := s.m[key]; ok && !e.at.After(sent) {
		delete(s.m, key)
	}
	s.mu.Unlock()
}

func (c *denyCache) remove(key string) {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

func (c *denyCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
