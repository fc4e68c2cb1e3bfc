package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/settings"
)

var (
	// ErrNotObtained is returned by Obtain and Do when another owner holds
	// the lock and the retry strategy, or the context, gave up waiting.
	ErrNotObtained = errors.New("lock: not obtained")
	// ErrNotHeld is returned by Release and Refresh when the lock is not
	// held by this owner any more: it expired, or another owner has it.
	ErrNotHeld = errors.New("lock: not held")
	// ErrLost is the cause (see context.Cause) of the context AutoRefresh
	// returns once the lock is known to be lost, and is wrapped by the
	// error of Do when the lock was lost while its function ran.
	ErrLost = errors.New("lock: lost")
)

// Options configures a Client or a Redlock. The zero value is ready to use.
type Options struct {
	// Settings are the deployment-wide settings (core.Settings): key
	// prefix, call timeout, logger, error hook, telemetry providers,
	// trusted proxies, secret and rejection writer. Copy the shared value
	// in; a field set here after that applies to this lock only.
	//
	// The lock uses Prefix; Timeout (on Redlock the calls of Obtain and
	// Refresh to each node are also bounded by a tenth of the lock's TTL,
	// so a dead node cannot use up the validity that the others grant);
	// Logger and OnError (the failures the lock does not return: a failed
	// release at the end of Do, a failed refresh of AutoRefresh; lock names
	// never appear in log lines); MeterProvider (redisware.lock.operations
	// by outcome: obtained, contended, lost; redisware.redis.duration per
	// operation); and TracerProvider (a span per Do, made only as a child
	// of the caller's span, with its outcome). TrustedProxies, Secret and
	// OnReject are unused, since a lock reads no request and writes no
	// response; New still rejects them when invalid, as every core does.
	core.Settings
	// Clock, when set, supplies the time that floors each fencing token
	// (see the package documentation), in place of the Redis server's
	// TIME. Set it only for Redis-compatible servers that refuse TIME in
	// scripts; every instance must then have a synchronised clock that
	// never goes back. Zero means the server's clock.
	Clock func() time.Time
}

// ObtainOptions configures one Obtain or Do call. A nil *ObtainOptions
// tries once.
type ObtainOptions struct {
	// Retry decides whether and when to try again while another owner
	// holds the lock. Zero (nil) means NoRetry: a single attempt. The
	// total wait is whatever the strategy says (its maxWait), bounded by
	// the context's deadline; it is never derived from the TTL.
	Retry RetryStrategy
}

// Client obtains locks on one Redis server or one Redis Cluster. It is safe
// for concurrent use; create one with New and share it. The zero value is
// invalid.
type Client struct {
	e engine
}

// New returns a Client on client, which may be any redis.UniversalClient:
// a single server, a Sentinel failover client or a Cluster. It validates
// opts once, up front: an option that cannot work is an error that names
// it and wraps core.ErrConfig.
func New(client redis.UniversalClient, opts Options) (*Client, error) {
	res, err := settings.Resolve("lock", client, opts.Settings)
	if err != nil {
		return nil, err
	}
	res.WarnIfEvicting("locks (two owners may hold one lock)")
	return &Client{e: newEngine(res, []redis.UniversalClient{client}, opts, false)}, nil
}

// Obtain takes the lock named key for ttl, in one round trip, and returns
// it with a fresh owner token and fencing token. key may be any string; it
// is escaped before it becomes part of a Redis key. ttl is truncated to
// whole milliseconds and must be at least 1ms. An answer that arrives
// after ttl has passed comes too late to hold anything: the attempt then
// counts as failed, and what it took is released.
//
// While another owner holds the lock, Obtain tries again as opts.Retry
// says (by default not at all) and then returns ErrNotObtained; it also
// gives up, with an error wrapping both ErrNotObtained and ctx.Err(), when
// ctx ends while it waits. A Redis failure (an error, or no answer within
// Settings.Timeout) is returned at once, not retried: it is not contention.
// After such a failure Obtain makes one attempt to release whatever the
// unanswered call may have taken, so the key is not left held until ttl.
func (c *Client) Obtain(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions) (*Lock, error) {
	return c.e.obtain(ctx, key, ttl, opts)
}

// Do obtains the lock named key (as Obtain does), keeps it alive with
// AutoRefresh while fn runs, and releases it when fn returns or panics.
// fn gets a context that ends when ctx does, or the moment the lock is
// known lost, with cause ErrLost; fn should stop its work then.
//
// Do returns the error of Obtain if the lock was not obtained (such as
// ErrNotObtained); an error wrapping ErrLost, joined with fn's error, if
// the lock was lost while fn ran (a refresh found it gone, its validity ran
// out, or the release found it gone); and fn's error otherwise. The lock is
// released with a context of its own, so a ctx that has ended does not
// leave it held. A release that fails for another reason (Redis away) is
// not returned, since fn's work is done, but logged at warn level and
// passed to Settings.OnError; the lock then expires by itself within its
// TTL.
func (c *Client) Do(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions, fn func(ctx context.Context) error) error {
	return c.e.do(ctx, key, ttl, opts, fn)
}

// Lock is a held lock, returned by Client.Obtain or Redlock.Obtain. Its
// methods are safe for concurrent use. The zero value is invalid.
type Lock struct {
	e     *engine
	key   string
	keys  []string // the lock key, then the fence counter key
	token string
	fence int64

	mu         sync.Mutex
	ttl        time.Duration // of the last successful Obtain or Refresh
	validUntil time.Time     // when that call was sent + ttl - drift
}

// Key returns the name the lock was obtained under, as given to Obtain.
func (l *Lock) Key() string { return l.key }

// Token returns the owner token: 128 random bits from crypto/rand,
// base64url-encoded. Only the holder of this token can release or refresh
// the lock.
func (l *Lock) Token() string { return l.token }

// Fence returns the fencing token of this acquisition: larger than that of
// every earlier acquisition of the same key on a single Redis or Cluster.
// Pass it with every write to the resource the lock protects, and have the
// resource reject a write whose token is lower than one it has seen (see
// the package documentation). On Redlock it is the largest token of the
// nodes that granted the lock, and is NOT guaranteed to grow.
func (l *Lock) Fence() int64 { return l.fence }

// Release deletes the lock, if this owner still holds it, in one round
// trip. It returns ErrNotHeld if the lock has expired or another owner now
// holds it. On Redlock it releases on every node and succeeds when a quorum
// of nodes still held the lock.
func (l *Lock) Release(ctx context.Context) error {
	return l.e.verdict("release", l.key, l.e.all(ctx, 0, releaseScript, l.keys[:1], l.token))
}

// Refresh sets the lock's TTL to ttl, counted from now, if this owner still
// holds it, in one round trip; ttl 0 keeps the current TTL (that of the
// last Obtain or Refresh). It returns ErrNotHeld if the lock has expired or
// another owner holds it. On Redlock it succeeds when a quorum of nodes
// still held the lock and the new validity (ttl minus the time the call
// took minus the clock drift allowance) is positive.
func (l *Lock) Refresh(ctx context.Context, ttl time.Duration) error {
	if ttl == 0 {
		ttl = l.currentTTL()
	}
	ttl, err := checkTTL(ttl)
	if err != nil {
		return err
	}
	err = l.refresh(ctx, ttl)
	if err != nil && !errors.Is(err, ErrNotHeld) {
		return fmt.Errorf("lock: refresh %q: %w", l.key, err)
	}
	return err
}

// refresh is Refresh with a valid ttl. Its errors do not name the lock, so
// AutoRefresh may log them: ErrNotHeld, errSlow, or the nodes' errors.
func (l *Lock) refresh(ctx context.Context, ttl time.Duration) error {
	sent := time.Now()
	rs := l.e.all(ctx, l.e.nodeLimit(ttl), refreshScript, l.keys[:1], l.token, ttl.Milliseconds())
	if err := l.e.vote(rs); err != nil {
		return err
	}
	if ttl-time.Since(sent)-l.e.drift(ttl) <= 0 {
		return errSlow
	}
	l.mu.Lock()
	l.ttl, l.validUntil = ttl, sent.Add(ttl-l.e.drift(ttl))
	l.mu.Unlock()
	return nil
}

// errSlow is why a Refresh that a quorum granted still failed.
var errSlow = errors.New("the call took longer than the ttl")

// TTL returns how long the lock has left, as Redis says, or 0 if this owner
// no longer holds it. On Redlock it is the time a quorum of nodes still
// grants: the quorum-th longest of their TTLs.
func (l *Lock) TTL(ctx context.Context) (time.Duration, error) {
	return l.e.ttlOfQuorum(l.key, l.e.all(ctx, 0, pttlScript, l.keys[:1], l.token))
}

// AutoRefresh refreshes the lock by its TTL every `every` (0, or anything
// not shorter than the TTL, means a third of the TTL) until the returned
// stop function is called or ctx ends. It returns a context derived from
// ctx that is cancelled, with cause ErrLost, the moment the lock is known
// lost: when a refresh finds it held by no one or by another owner, or when
// no refresh has succeeded before the lock's validity ran out (the time the
// last successful Obtain or Refresh was sent, plus its TTL, less Redlock's
// drift allowance) — a timer watches that deadline, so a Redis that stops
// answering ends the context on time. Other refresh errors are retried at
// the next tick, and reported: logged at warn level and passed to
// Settings.OnError.
//
// stop ends the refreshing and cancels the returned context (with cause
// context.Canceled, unless it was lost before); it does not release the
// lock. It waits for a refresh in flight, and may be called more than once.
func (l *Lock) AutoRefresh(ctx context.Context, every time.Duration) (context.Context, func()) {
	return l.autoRefresh(ctx, every)
}

func (l *Lock) currentTTL() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ttl
}

func (l *Lock) validity() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}
