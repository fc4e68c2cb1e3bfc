package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
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
// the one Redis computed; a request of another cost goes to Redis.
//
// A Reset makes every earlier denial of its key wrong, including one whose
// reply is still on its way. So each key belongs to one of a fixed number
// of reset stripes, each with a generation that reset advances: a decision
// takes a ticket (the generation) before it sends its call, and put files
// its denial only if the generation is still the ticket's. Reset advances
// the generation and drops the key's entry under the shard's lock, after
// its Redis call as well as before it, so no denial from a call sent
// before the Reset returned survives it. The other keys of the stripe (one
// key in denyShards × resetStripes = 1,024) have their denials in flight
// kept out too: each costs one more Redis call, never a wrong answer. The
// one thing that can still make an entry wrong is a Reset made on another
// instance; see Limiter.Reset. Remaining in a cached answer is what Redis
// last said, so it may overstate what other instances have left since.
//
// An entry also comes from an admission that took what was left (Redis
// then says when the next request of its cost can pass), and it outlives
// its end as the key's probe: when a flood's entry runs out, every request
// in flight at that moment would go to Redis at once, and all but one be
// denied. Instead the first becomes the probe and asks Redis, and the
// others of the same cost wait for its answer (at most until its deadline)
// and look again: in a flood, that answer is a new entry. A request waits
// for others' calls no longer than one call may last (Settings.Timeout),
// then asks Redis itself.
type denyCache struct {
	shards [denyShards]denyShard
	max    int // entries per shard
	seed   maphash.Seed
}

// denyShards is the number of independently locked shards; resetStripes
// the number of reset generations in each. Memory is fixed whatever the
// cache's size or the keys seen: 16 × 64 generations of 4 bytes, 4 KiB.
const (
	denyShards   = 16
	resetStripes = 64
)

type denyShard struct {
	mu sync.RWMutex
	m  map[string]denyEntry
	// gens are the reset generations of the shard's stripes. They are
	// advanced under mu held for writing, and read with no lock when a
	// decision takes its ticket.
	gens [resetStripes]atomic.Uint32
}

// denyTicket is what a decision holds while its Redis call is out: where
// its key lives and the reset generation it saw before sending the call.
type denyTicket struct {
	s      *denyShard
	stripe uint32
	gen    uint32
}

type denyEntry struct {
	until time.Time
	at    time.Time // when the Redis call that produced res was sent
	cost  int
	res   Result
	probe *denyProbe // the request asking Redis since the entry ran out
}

// denyProbe is the call a request makes for a key whose entry has run out,
// which the key's other requests of the same cost wait for.
type denyProbe struct {
	done chan struct{}
	// expired is closed at the call's deadline (nil: it has none), when
	// nobody waits for it any longer.
	expired <-chan struct{}
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

// ticket returns the ticket of a Redis call about to be sent for key.
func (c *denyCache) ticket(key string) denyTicket {
	return c.ticketOf(maphash.String(c.seed, key))
}

func (c *denyCache) ticketOf(h uint64) denyTicket {
	t := denyTicket{s: &c.shards[h%denyShards], stripe: uint32(h/denyShards) % resetStripes}
	t.gen = t.s.gens[t.stripe].Load()
	return t
}

// get returns the cached denial for a request of cost at now, with its
// durations brought up to date.
func (c *denyCache) get(key string, cost int, now time.Time) (Result, bool) {
	res, ok, _, _ := c.check(key, cost, now, false, nil)
	return res, ok
}

// check looks key up for a request of cost at now, hashing it once. On a
// hit it returns the cached denial; on a miss, the ticket of the Redis call
// the caller sends next, taken before the call is sent. With probing, when
// key's entry for cost has run out, it returns the entry's probe: a new one
// (made the caller's, whose call must end with finish and lasts at most
// timeout; negative: no bound) when nobody is asking Redis yet, else the
// one to wait for, with nil ticket shard. A probe expires at the deadline
// of a call of calls made now.
func (c *denyCache) check(key string, cost int, now time.Time, probing bool, calls *caller) (Result, bool, denyTicket, *denyProbe) {
	h := maphash.String(c.seed, key)
	s := &c.shards[h%denyShards]
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if ok && cost == e.cost && now.Before(e.until) {
		return e.answer(now), true, denyTicket{}, nil
	}
	if !ok || cost != e.cost || !probing {
		return Result{}, false, c.ticketOf(h), nil
	}
	s.mu.Lock()
	e, ok = s.m[key]
	switch {
	case ok && cost == e.cost && now.Before(e.until): // filed meanwhile
		s.mu.Unlock()
		return e.answer(now), true, denyTicket{}, nil
	case !ok || cost != e.cost:
		s.mu.Unlock()
		return Result{}, false, c.ticketOf(h), nil
	case e.probe != nil && !closed(e.probe.expired):
		p := e.probe
		s.mu.Unlock()
		return Result{}, false, denyTicket{}, p
	}
	p := &denyProbe{done: make(chan struct{}), expired: calls.deadline()}
	e.probe = p
	s.m[key] = e
	s.mu.Unlock()
	return Result{}, false, c.ticketOf(h), p
}

// answer is e's denial at now, its durations brought up to date.
func (e *denyEntry) answer(now time.Time) Result {
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
	return res
}

// finish ends probe p of key, made by check for the decision holding
// ticket t, once its answer has been filed (or not): the requests waiting
// for it look again.
func (c *denyCache) finish(t denyTicket, key string, p *denyProbe) {
	s := t.s
	s.mu.Lock()
	if e, ok := s.m[key]; ok && e.probe == p {
		e.probe = nil
		s.m[key] = e
	}
	s.mu.Unlock()
	close(p.done)
}

// wait waits until p has finished or expired, or until ends (closed) or
// done is closed.
func (p *denyProbe) wait(done, until <-chan struct{}) {
	select {
	case <-p.done:
	case <-p.expired:
	case <-until:
	case <-done:
	}
}

// closed reports whether c, which is only ever closed, is; a nil c never
// is.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// put records that a request of cost sent at `at`, holding ticket t, was
// denied until until; unless a Reset of the key's stripe came after the
// ticket was taken, when the denial may be undone already.
func (c *denyCache) put(t denyTicket, key string, cost int, at, until time.Time, res Result) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gens[t.stripe].Load() != t.gen {
		return
	}
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

// forget drops the entry of key made by a call sent no later than sent, by
// the decision holding ticket t: Redis admitted a request for key sent
// then, after which what such an entry remembers (Remaining) is stale. An
// entry from a call sent later is newer than the admission and stays.
func (c *denyCache) forget(t denyTicket, key string, sent time.Time) {
	s := t.s
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

// reset drops the entry of key and, in the same critical section, advances
// its stripe's generation, so that no decision whose ticket predates this
// call can file a denial of key afterwards.
func (c *denyCache) reset(key string) {
	t := c.ticket(key)
	t.s.mu.Lock()
	t.s.gens[t.stripe].Add(1)
	delete(t.s.m, key)
	t.s.mu.Unlock()
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
