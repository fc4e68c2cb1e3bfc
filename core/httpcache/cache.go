package httpcache

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/lock"
)

var (
	//go:embed lookup.lua
	lookupLua string
	//go:embed store.lua
	storeLua string
	//go:embed tagadd.lua
	tagAddLua string
	//go:embed tagtake.lua
	tagTakeLua string

	lookupScript  = redis.NewScript(lookupLua)
	storeScript   = redis.NewScript(storeLua)
	tagAddScript  = redis.NewScript(tagAddLua)
	tagTakeScript = redis.NewScript(tagTakeLua)
)

// Defaults of Options.
const (
	DefaultName          = "default"
	DefaultStatusName    = "redisware"
	DefaultMaxBodyBytes  = 1 << 20
	DefaultCompressAbove = 1024
	DefaultMaxVariants   = 32
	DefaultFillTimeout   = 10 * time.Second
	DefaultWaitTimeout   = 5 * time.Second
	DefaultLocalMaxAge   = 5 * time.Second
	DefaultMaxTags       = 64
)

// Options configures a Cache. Every field is optional.
type Options struct {
	// Name separates the entries of several caches on one Redis; it is
	// part of every key and of the invalidation channel. Zero means
	// "default".
	Name string
	// Prefix starts every Redis key. Zero means "redisware:".
	Prefix string
	// StatusName is the cache's name in the Cache-Status header (RFC
	// 9211). Zero means "redisware".
	StatusName string
	// ShowKey adds the cache key (host, path and canonical query) to
	// Cache-Status as its key parameter. By default the key is never
	// shown.
	ShowKey bool
	// IgnoreParams lists query parameters left out of the cache key, such
	// as tracking parameters; a name ending in "*" is a prefix ("utm_*").
	// Zero keeps every parameter.
	IgnoreParams []string
	// KeepParams, when set, lists the only query parameters that are part
	// of the cache key (same syntax as IgnoreParams); every other is
	// ignored. Zero keeps every parameter.
	KeepParams []string
	// MaxBodyBytes caps the body of a stored response, in bytes, before
	// compression. A larger response streams to the client and is not
	// stored, never fully buffered. Zero means 1 MiB; negative is an
	// error.
	MaxBodyBytes int
	// CompressAbove is the body size, in bytes, from which a stored body is
	// deflated (kept only when that saves an eighth or more). Zero means
	// 1 KiB; negative never compresses.
	CompressAbove int
	// MaxVariants bounds the variants (Vary) kept per URL; storing one
	// more drops the others. Zero means 32.
	MaxVariants int
	// KeepStale is how long a response is kept past its freshness and its
	// stale windows (responses with a freshness lifetime or a validator
	// only): it may then answer requests that accept stale responses
	// (max-stale), and one with a validator (ETag, Last-Modified) is
	// revalidated with a conditional request instead of fetched whole, a
	// 304 from the handler renewing it. Zero keeps nothing past the stale
	// windows.
	KeepStale time.Duration
	// FillTimeout is how long a cache miss holds the cross-instance lock
	// that makes one instance run the handler while the others wait. A
	// handler slower than this lets another instance run it too. Zero
	// means 10 seconds.
	FillTimeout time.Duration
	// WaitTimeout bounds how long a request waits for another request (in
	// this instance or another) that is already producing the same
	// response; past it the request runs the handler itself. Zero means
	// 5 seconds; negative never waits (every miss runs the handler).
	WaitTimeout time.Duration
	// LocalBytes, when positive, enables the in-process tier: decoded
	// entries kept in memory up to this many bytes (least recently used
	// first out), so a hit costs no Redis round trip. Every instance
	// learns of invalidations through Redis pub/sub; an instance whose
	// subscription breaks drops its tier and uses Redis alone until the
	// subscription is back. Zero disables the tier.
	LocalBytes int64
	// LocalMaxAge bounds how long an entry stays in the in-process tier,
	// whatever its freshness. Zero means 5 seconds.
	LocalMaxAge time.Duration
	// Timeout bounds each Redis call made while serving a request. Zero
	// means 100ms; negative means no deadline of our own. When a call
	// fails or runs out of time the request goes to the handler: no error
	// reaches the client because the cache failed.
	Timeout time.Duration
	// Clock returns the current time, for freshness and ages. Zero means
	// time.Now. Instances should have synchronised clocks: one computes
	// the age of a response another stored.
	Clock func() time.Time
	// OnError, when set, is called with every Redis failure.
	OnError func(ctx context.Context, err error)
	// Logger receives warnings for Redis failures. Zero means
	// slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the cache's metrics: redisware.cache.requests
	// by cache and outcome (hit, local_hit, stale, miss; bypass with
	// redisware.reason method, skip, request or redis_unavailable),
	// redisware.cache.stores, redisware.cache.stored_bytes,
	// redisware.cache.invalidations by kind, and redisware.redis.duration.
	// Zero means the global provider, a no-op until the application
	// installs an SDK.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span per request the middleware sees
	// (made only as a child of the request's span), with its Cache-Status
	// as an attribute. Zero means the global provider.
	TracerProvider trace.TracerProvider
}

// Cache is a shared HTTP cache and a cache for application data, both in
// Redis. It is safe for concurrent use; create one per application with
// New, serve HTTP through a Middleware, and Close it at shutdown.
type Cache struct {
	client redis.UniversalClient
	call   rediscall.Caller
	space  keys.Space
	opts   Options
	params paramFilter
	locker *lock.Client
	logger *slog.Logger
	now    func() time.Time

	tel *instruments

	channel string
	local   *localTier // nil without LocalBytes
	hints   varyHints
	flights flightGroup // misses: one request runs the handler
	reads   flightGroup // lookups: one Redis read per key at a time

	closeOnce sync.Once
	stop      func()
	done      chan struct{}
}

// New returns a Cache on client, which may be any redis.UniversalClient.
// With Options.LocalBytes set it subscribes to the cache's invalidation
// channel; Close ends the subscription.
func New(client redis.UniversalClient, opts Options) (*Cache, error) {
	if client == nil {
		return nil, errors.New("httpcache: nil Redis client")
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.StatusName == "" {
		opts.StatusName = DefaultStatusName
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.CompressAbove == 0 {
		opts.CompressAbove = DefaultCompressAbove
	}
	if opts.MaxVariants == 0 {
		opts.MaxVariants = DefaultMaxVariants
	}
	if opts.FillTimeout == 0 {
		opts.FillTimeout = DefaultFillTimeout
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.LocalMaxAge == 0 {
		opts.LocalMaxAge = DefaultLocalMaxAge
	}
	switch {
	case opts.MaxBodyBytes < 0:
		return nil, errors.New("httpcache: negative MaxBodyBytes")
	case opts.MaxVariants < 1:
		return nil, errors.New("httpcache: MaxVariants below 1")
	case opts.FillTimeout < time.Millisecond:
		return nil, fmt.Errorf("httpcache: FillTimeout %v is under a millisecond", opts.FillTimeout)
	case opts.KeepStale < 0 || opts.LocalBytes < 0 || opts.LocalMaxAge < 0:
		return nil, errors.New("httpcache: negative KeepStale, LocalBytes or LocalMaxAge")
	case !validStatusName(opts.StatusName):
		return nil, fmt.Errorf("httpcache: StatusName %q is not an RFC 8941 token", opts.StatusName)
	}
	locker, err := lock.New(client, lock.Options{Prefix: opts.Prefix, Timeout: opts.Timeout, MeterProvider: opts.MeterProvider})
	if err != nil {
		return nil, fmt.Errorf("httpcache: %w", err)
	}
	c := &Cache{
		client: client,
		call:   rediscall.New(client, opts.Timeout),
		space:  keys.NewSpace(opts.Prefix, "hc", opts.Name),
		opts:   opts,
		params: paramFilter{ignore: opts.IgnoreParams, keep: opts.KeepParams},
		locker: locker,
		logger: opts.Logger,
		now:    opts.Clock,
		tel:    newInstruments(opts),
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.channel = c.space.Tagged("events", ":c")
	c.flights.init()
	c.reads.init()
	if opts.LocalBytes > 0 {
		c.local = newLocalTier(opts.LocalBytes, opts.LocalMaxAge.Milliseconds())
		ctx, cancel := context.WithCancel(context.Background())
		ps := client.Subscribe(ctx, c.channel)
		c.done = make(chan struct{})
		c.stop = func() {
			cancel()
			_ = ps.Close() // ends a receive in progress
		}
		go c.subscribe(ctx, ps)
	}
	return c, nil
}

// Close ends the invalidation subscription of the in-process tier and
// drops the tier. It does not close the Redis client. Close is safe to
// call more than once; the Cache keeps working without its local tier.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		if c.stop != nil {
			c.stop()
			<-c.done
		}
	})
	return nil
}

// LocalReady reports whether the in-process tier serves: Options.LocalBytes
// is set and the invalidation subscription is confirmed. Until then, and
// whenever the subscription breaks, every lookup goes to Redis.
func (c *Cache) LocalReady() bool { return c.local != nil && c.local.active.Load() }

func (c *Cache) nowMS() int64 { return c.now().UnixMilli() }

func (c *Cache) report(ctx context.Context, err error) {
	c.logger.LogAttrs(ctx, slog.LevelWarn, "httpcache: redis call failed", slog.String("cache", c.opts.Name), slog.Any("error", err))
	if c.opts.OnError != nil {
		c.opts.OnError(ctx, err)
	}
}

// validStatusName reports whether s is an RFC 8941 token, which a
// Cache-Status member name must be.
func validStatusName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !tchar(s[i]) && s[i] != ':' && s[i] != '/' {
			return false
		}
	}
	return true
}

// varyHints remembers the Vary names last seen for each URL key, so a
// lookup sends only the request headers that select a variant. A wrong or
// missing hint costs a second round trip (a wrong one) or a longer request
// (a missing one), never a wrong answer.
type varyHints struct {
	mu sync.Mutex
	m  map[string]string
}

const maxHints = 10000

func (h *varyHints) get(key string) (string, bool) {
	h.mu.Lock()
	v, ok := h.m[key]
	h.mu.Unlock()
	return v, ok
}

func (h *varyHints) set(key, names string) {
	h.mu.Lock()
	if h.m == nil || len(h.m) >= maxHints {
		h.m = make(map[string]string)
	}
	h.m[key] = names
	h.mu.Unlock()
}
