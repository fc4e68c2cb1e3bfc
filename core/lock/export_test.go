package lock

import "github.com/redisware/redisware/core/internal/settings"

// KeysOf returns the Redis keys of the lock named key under prefix (""
// means the default): the lock itself and its fence counter.
func KeysOf(prefix, key string) (lockKey, fenceKey string) {
	e := newEngine(&settings.Resolved{Prefix: prefix}, nil, Options{}, false)
	ks := e.keys(key)
	return ks[0], ks[1]
}

// Forge returns a copy of l that carries another owner token: what a
// process that does not own the lock would hold.
func Forge(l *Lock, token string) *Lock {
	f := &Lock{e: l.e, key: l.key, keys: l.keys, token: token, fence: l.fence}
	f.ttl, f.validUntil = l.currentTTL(), l.validity()
	return f
}
