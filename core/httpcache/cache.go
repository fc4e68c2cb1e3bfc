package httpcache

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/settings"
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
	//go:embed tagscan.lua
	tagScanLua string
	//go:embed getdata.lua
	getDataLua string
	//go:embed forget.lua
	forgetLua string
	//go:embed setdata.lua
	setDataLua string
	//go:embed unlock.lua
	unlockLua string
	//go:embed readlock.lua
	readLockLua string

	// Each runs at most once per call, alone or in a pipeline: a call
	// whose reply was lost fails rather than being re-sent by go-redis
	// (see package script).
	lookupScript   = script.New(lookupLua)
	storeScript    = script.New(storeLua)
	tagAddScript   = script.New(tagAddLua)
	tagTakeScript  = script.New(tagTakeLua)
	tagScanScript  = script.New(tagScanLua)
	getDataScript  = script.New(getDataLua)
	forgetScript   = script.New(forgetLua)
	setDataScript  = script.New(setDataLua)
	unlockScript   = script.New(unlockLua)
	readLockScript = script.New(readLockLua)
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
	DefaultMaxTTL        = 24 * time.Hour
)

// Options configures a Cache. Every field is optional.
type Options struct {
	// Settings are the deployment-wide settings (core.Settings): key
	// prefix, call timeout, logger, error hook, telemetry providers,
	// trusted proxies, secret and rejection writer. Copy the shared value
	// in; a field set here after that applies to this cache only.
	//
	// The cache reads Prefix, Timeout (each Redis call made for a
	// request; when one fails or runs out of time the request goes to the
	// handler, so no error reaches the client because the cache failed),
	// Logger and OnError (every Redis failure), MeterProvider and
	// TracerProvider (see the package documentation), OnReject (the 504
	// to only-if-cached), and TrustedProxies: a request from one of them
	// is keyed on the scheme its X-Forwarded-Proto names (from any other
	// client, on the connection's own). Secret is unused.
	core.Settings
	// Name separates the entries of several caches on one Redis; it is
	// part of every key and of the invalidation channel. Zero means
	// "default".
	Name string
	// StatusName is the cache's name in the Cache-Status header (RFC
	// 9211), an RFC 8941 token. Zero means "redisware".
	StatusName string
	// ShowKey adds the cache key (host, path and canonical query) to
	// Cache-Status as its key parameter. By default the key is never
	// shown.
	ShowKey bool
	// IgnoreParams lists query parameters left out of the cache key, such
	// as tracking parameters; a name ending in "*" is a prefix ("utm_*").
	// An empty entry is an error. Zero keeps every parameter.
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
	// more drops the others. Zero means 32; negative is an error.
	MaxVariants int
	// MaxTTL caps how long any entry is kept in Redis, whatever its
	// max-age, Expires, stale windows or KeepStale say (its freshness is
	// capped too), and the TTL given to Set and GetOrLoad. Zero means 24
	// hours (DefaultMaxTTL); under a second is an error.
	MaxTTL time.Duration
	// KeepStale is how long a response is kept past its freshness and its
	// stale windows (responses with a freshness lifetime or a validator
	// only): it may then answer requests that accept stale responses
	// (max-stale), and one with a validator (ETag, Last-Modified) is
	// revalidated with a conditional request instead of fetched whole, a
	// 304 from the handler renewing it. Zero keeps nothing past the stale
	// windows; negative is an error.
	KeepStale time.Duration
	// FillTimeout is how long a cache miss holds the cross-instance lock
	// that makes one instance run the handler (or a GetOrLoad's load)
	// while the others wait. A handler slower than this lets another
	// instance run it too; a load slower than this is returned but not
	// stored. The lock is a key with this TTL and nothing more (for
	// GetOrLoad, a marker in the value's key): a miss leaves nothing
	// behind in Redis longer than this. Zero means 10 seconds; under a
	// millisecond is an error.
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
	// subscription is back. The subscription is made in the background,
	// so New never waits for Redis; the tier serves once it holds. Zero
	// disables the tier; negative is an error.
	LocalBytes int64
	// LocalMaxAge bounds how long an entry stays in the in-process tier,
	// whatever its freshness. Zero means 5 seconds; negative or under a
	// millisecond is an error.
	LocalMaxAge time.Duration
	// Clock returns the current time, for freshness and ages. Zero means
	// time.Now. Instances should have synchronised clocks: one computes
	// the age of a response another stored.
	Clock func() time.Time
	// Route says how the Cache New returns serves the routes it is
	// mounted on: default freshness, tags, ETags, cookies. Zero serves
	// responses as HTTP alone says. WithRoute gives other routes options
	// of their own on the same cache.
	Route Route
}

// Cache is a shared HTTP cache and a cache for application data, both in
// Redis. It is safe for concurrent use. Create one per application with
// New, mount it on routes (nethttp.HTTPCache, ginmw.HTTPCache,
// echomw.HTTPCache, or ServeHTTP), give routes options of their own with
// WithRoute, and Close it at shutdown.
type Cache struct {
	*engine       // shared with every Cache WithRoute derives
	route   Route // how this value serves HTTP, TagHeaders filled in
}

// engine is what every Cache derived from one New shares: entries, Redis
// calls, the in-process tier and its subscription, stampede state.
type engine struct {
	client redis.UniversalClient
	set    *settings.Resolved
	call   rediscall.Caller
	space  keys.Space
	opts   Options
	params paramFilter
	logger *slog.Logger
	// trusted are the parsed Settings.TrustedProxies.
	trusted []netip.Prefix
	// genTTL is how long a URL's generation (see forget.lua) is kept at
	// least.
	genTTL time.Duration
	now    func() time.Time

	tel *instruments

	base    string // the start of every key, before the hash tag
	channel string
	local   *localTier // nil without LocalBytes
	hints   varyHints
	flights flightGroup   // misses (and GetOrLoad calls): one request runs the handler
	reads   flightGroup   // lookups: one Redis read per key at a time
	batches batch.Batcher // lookups of many keys: one round trip for many

	// tokenBase and tokenSeq make lock tokens (nextToken); marker is
	// what a GetOrLoad leaves in a value's place while it loads (see
	// readLock); fillMS is FillTimeout in milliseconds, as Redis takes it.
	// The *Arg fields are the same, boxed once.
	tokenBase string
	tokenSeq  atomic.Uint64
	marker    string
	fillMS    string
	markerArg any
	fillMSArg any
	// noSetGet: the server refused SET with both NX and GET (before
	// Redis 7.0); GetOrLoad reads with readlock.lua instead.
	noSetGet atomic.Bool

	closeOnce sync.Once
	stop      func()
	done      chan struct{}
}

// New returns a Cache on client, which may be any redis.UniversalClient,
// serving HTTP with opts.Route. Every option is checked here: one that
// cannot work is an error that names it and wraps core.ErrConfig. New
// makes no Redis call. With Options.LocalBytes set, it starts subscribing
// to the cache's invalidation channel in the background (retrying until it
// holds); Close ends the subscription.
func New(client redis.UniversalClient, opts Options) (*Cache, error) {
	set, err := settings.Resolve("httpcache", client, opts.Settings)
	if err != nil {
		return nil, err
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
	if opts.MaxTTL == 0 {
		opts.MaxTTL = DefaultMaxTTL
	}
	if err := validate(set, &opts); err != nil {
		return nil, err
	}
	route, field, why := checkRoute(opts.Route)
	if field != "" {
		return nil, set.Invalid("Route."+field, "%s", why)
	}
	e := &engine{
		client: client,
		set:    set,
		call:   set.Call,
		space:  keys.NewSpace(set.Prefix, "hc", opts.Name),
		opts:   opts,
		params: paramFilter{ignore: opts.IgnoreParams, keep: opts.KeepParams},
		logger: set.Logger,
		genTTL: generationTTL(opts.FillTimeout),
		now:    opts.Clock,
		tel:    newInstruments(opts),
		fillMS: strconv.FormatInt(opts.FillTimeout.Milliseconds(), 10),
	}
	e.tokenBase = newTokenBase()
	e.marker = string(rune(markerByte)) + e.tokenBase
	e.markerArg, e.fillMSArg = e.marker, e.fillMS
	if e.now == nil {
		e.now = time.Now
	}
	e.trusted, _ = core.ParseTrustedProxies(opts.TrustedProxies) // validated by Resolve
	e.base = strings.TrimSuffix(e.space.Tagged("", ""), "{%}")
	e.channel = e.space.Tagged("events", ":c")
	e.flights.init()
	e.reads.init()
	c := &Cache{engine: e, route: route}
	if opts.LocalBytes > 0 {
		e.local = newLocalTier(opts.LocalBytes, opts.LocalMaxAge.Milliseconds())
		ctx, cancel := context.WithCancel(context.Background())
		// No channel yet: with one, Subscribe would dial here, and New
		// would wait for an unreachable server; the subscriber goroutine
		// subscribes, and keeps trying.
		ps := client.Subscribe(ctx)
		e.done = make(chan struct{})
		e.stop = func() {
			cancel()
			_ = ps.Close() // ends a receive in progress
		}
		go c.subscribe(ctx, ps)
	}
	return c, nil
}

// validate checks the fields of opts (defaults filled in) that are the
// cache's own.
func validate(set *settings.Resolved, opts *Options) error {
	switch {
	case !validStatusName(opts.StatusName):
		return set.Invalid("StatusName", "%q is not an RFC 9651 token", opts.StatusName)
	case opts.MaxBodyBytes < 0:
		return set.Invalid("MaxBodyBytes", "is negative (%d)", opts.MaxBodyBytes)
	case opts.MaxVariants < 0:
		return set.Invalid("MaxVariants", "is negative (%d)", opts.MaxVariants)
	case opts.KeepStale < 0:
		return set.Invalid("KeepStale", "is negative (%v)", opts.KeepStale)
	case opts.FillTimeout < time.Millisecond:
		return set.Invalid("FillTimeout", "%v is under a millisecond", opts.FillTimeout)
	case opts.LocalBytes < 0:
		return set.Invalid("LocalBytes", "is negative (%d)", opts.LocalBytes)
	case opts.LocalMaxAge < time.Millisecond:
		return set.Invalid("LocalMaxAge", "%v is under a millisecond", opts.LocalMaxAge)
	case opts.MaxTTL < time.Second:
		return set.Invalid("MaxTTL", "%v is under a second", opts.MaxTTL)
	}
	for i, p := range opts.IgnoreParams {
		if p == "" {
			return set.Invalid(fmt.Sprintf("IgnoreParams[%d]", i), "is empty")
		}
	}
	for i, p := range opts.KeepParams {
		if p == "" {
			return set.Invalid(fmt.Sprintf("KeepParams[%d]", i), "is empty")
		}
	}
	return nil
}

// Close ends the invalidation subscription of the in-process tier and
// drops the tier. It does not close the Redis client. The Caches that
// WithRoute derives share the tier, so Close on any of them closes it for
// all: call it once, on the value New returned, at shutdown. Close is
// safe to call more than once; the Cache keeps working without its local
// tier.
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

// generationTTL returns how long a URL's generation (in the URL's hash,
// see forget.lua) is kept after an invalidation: long enough to outlive
// every fill that may have looked the URL up before it (a fill whose
// lookup found no generation stores only within half this time; see
// fillAge), short enough that invalidating many URLs leaves little
// behind: a minute, or twice the fill timeout.
func generationTTL(fill time.Duration) time.Duration { return max(time.Minute, 2*fill) }

func (c *Cache) report(ctx context.Context, err error) {
	c.set.Report(ctx, "httpcache: redis call failed", err, slog.String("cache", c.opts.Name))
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
