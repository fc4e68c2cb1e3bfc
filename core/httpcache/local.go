package httpcache

import (
	"container/list"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// localTier is the optional in-process tier: decoded entries within a
// byte budget, evicted oldest first but for those used since they were
// last looked at (second chance), so a read takes only a read lock. It serves only while the
// invalidation subscription is known to be alive (active); every
// invalidation, local or received, bumps epoch, and an entry read from
// Redis before an invalidation is never put in after it.
type localTier struct {
	budget int64
	maxAge int64 // ms

	active atomic.Bool
	epoch  atomic.Uint64

	mu    sync.RWMutex
	used  int64
	lru   *list.List // of *localItem, newest first
	items map[string]*list.Element
}

type localItem struct {
	key  string // the Redis key, then NUL and the variant field for a URL
	base string // the Redis key alone
	url  string // the URL (host, path, query), "" for data
	path string // the URL's path, for prefix invalidation ("" for data)
	e    *entry
	at   int64 // when it was put, ms
	size int64
	used atomic.Bool // read since it was put or given its second chance
}

func newLocalTier(budget, maxAge int64) *localTier {
	return &localTier{budget: budget, maxAge: maxAge, lru: list.New(), items: map[string]*list.Element{}}
}

// epochNow returns the invalidation epoch, to pass to put.
func (l *localTier) epochNow() uint64 {
	if l == nil {
		return 0
	}
	return l.epoch.Load()
}

// get returns the fresh entry stored under key, or nil.
func (l *localTier) get(key string, now int64) *entry {
	if l == nil || !l.active.Load() {
		return nil
	}
	l.mu.RLock()
	el, ok := l.items[key]
	var it *localItem
	if ok {
		it = el.Value.(*localItem)
	}
	l.mu.RUnlock()
	if it == nil {
		return nil
	}
	if now-it.at >= l.maxAge || now < it.at || it.e.gone(now) || (it.e.status != 0 && it.e.ttl(now) <= 0) {
		l.mu.Lock()
		if cur, ok := l.items[key]; ok && cur == el {
			l.remove(el)
		}
		l.mu.Unlock()
		return nil
	}
	if !it.used.Load() {
		it.used.Store(true)
	}
	return it.e
}

// put keeps e under key, unless an invalidation happened since epoch was
// read, the subscription is down, or e is larger than the budget.
func (l *localTier) put(key, base, url, path string, e *entry, now int64, epoch uint64) {
	if l == nil || !l.active.Load() {
		return
	}
	size := int64(e.size() + len(key) + len(base) + len(url) + len(path))
	if size > l.budget/4 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch.Load() != epoch || !l.active.Load() {
		return
	}
	if el, ok := l.items[key]; ok {
		l.remove(el)
	}
	l.items[key] = l.lru.PushFront(&localItem{key: key, base: base, url: url, path: path, e: e, at: now, size: size})
	l.used += size
	for second := l.lru.Len(); l.used > l.budget; second-- {
		back := l.lru.Back()
		if it := back.Value.(*localItem); second > 0 && it.used.Load() {
			it.used.Store(false) // a second chance
			l.lru.MoveToFront(back)
			continue
		}
		l.remove(back)
	}
}

func (l *localTier) remove(el *list.Element) {
	it := l.lru.Remove(el).(*localItem)
	delete(l.items, it.key)
	l.used -= it.size
}

// drop removes every item for which match returns true (nil: all) and
// bumps the epoch.
func (l *localTier) drop(match func(*localItem) bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch.Add(1)
	if match == nil {
		l.items = map[string]*list.Element{}
		l.lru.Init()
		l.used = 0
		return
	}
	for el := l.lru.Front(); el != nil; {
		next := el.Next()
		if match(el.Value.(*localItem)) {
			l.remove(el)
		}
		el = next
	}
}

// len returns how many items the tier holds.
func (l *localTier) len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.items)
}

// Invalidation messages, published on the cache's channel once Redis has
// forgotten what they name: a kind byte, then its subject.
const (
	msgKey    = 'k' // a Redis key: a URL with all its variants, or a data key
	msgTag    = 't' // a tag
	msgPrefix = 'p' // a path prefix, optionally "//host" first
)

// apply drops what an invalidation message names.
func (l *localTier) apply(msg string) {
	if l == nil || msg == "" {
		return
	}
	subject := msg[1:]
	switch msg[0] {
	case msgKey:
		l.drop(func(it *localItem) bool { return it.base == subject })
	case msgTag:
		l.drop(func(it *localItem) bool {
			for _, t := range it.e.tags {
				if t == subject {
					return true
				}
			}
			return false
		})
	case msgPrefix:
		host, path := splitPrefix(subject)
		l.drop(func(it *localItem) bool {
			if it.path == "" || !strings.HasPrefix(it.path, path) {
				return false
			}
			return host == "" || strings.HasPrefix(it.url, host+"/")
		})
	default:
		l.drop(nil)
	}
}

// Subscription health: the subscriber pings when the channel is quiet for
// pingEvery, and the tier stops serving (and is dropped) when nothing at
// all has been heard for silentAfter.
const (
	pingEvery   = time.Second
	silentAfter = 3 * time.Second
)

// subscribe keeps the in-process tier coherent until ctx ends: it listens
// to the invalidation channel, and whenever the subscription may have
// missed a message (an error, a reconnection, silence) it drops the whole
// tier and serves from it again only once the subscription is confirmed.
func (c *Cache) subscribe(ctx context.Context, ps *redis.PubSub) {
	defer close(c.done)
	l := c.local
	defer func() {
		l.active.Store(false)
		l.drop(nil)
	}()
	// Registers the channel even when it fails: every receive after a
	// failure dials again and subscribes to it.
	_ = ps.Subscribe(ctx, c.channel)
	lastHeard := time.Now()
	healthy := false
	down := func(err error) {
		if healthy || l.active.Load() {
			l.active.Store(false)
			l.drop(nil)
			if err != nil {
				c.report(ctx, errors.Join(errors.New("httpcache: invalidation subscription lost; local tier dropped"), err))
			}
		}
		healthy = false
	}
	up := func() {
		lastHeard = time.Now()
		if !healthy {
			l.drop(nil) // whatever was put while unsure
			healthy = true
			l.active.Store(true)
		}
	}
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if time.Since(lastHeard) > silentAfter {
					down(errors.New("no answer to PING"))
				}
				_ = ps.Ping(ctx)
				continue
			}
			down(err)
			// go-redis reconnects and subscribes again on the next
			// receive; pause so a dead server is not hammered.
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// a (re)subscription: anything may have been missed before it
				down(nil)
				up()
			}
		case *redis.Pong:
			up()
		case *redis.Message:
			lastHeard = time.Now()
			l.apply(m.Payload)
		}
	}
}

// publish tells every instance's in-process tier to drop what msg names.
// It is sent after Redis forgot it, so an instance that refills from Redis
// afterwards cannot get it back.
func (c *Cache) publish(ctx context.Context, msgs ...string) error {
	for _, m := range msgs {
		c.local.apply(m)
	}
	if len(msgs) == 0 {
		return nil
	}
	return c.call.DoMeasured(ctx, c.tel.ops["publish"], func(ctx context.Context) error {
		if len(msgs) == 1 {
			return c.client.Publish(ctx, c.channel, msgs[0]).Err()
		}
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range msgs {
				p.Publish(ctx, c.channel, m)
			}
			return nil
		})
		return err
	})
}
