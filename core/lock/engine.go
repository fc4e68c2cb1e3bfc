package lock

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/settings"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// fenceTTL is how long a fence counter outlives the last acquisition of its
// lock. Past it the counter is gone and the next token comes from the clock
// alone, which still makes it larger than every earlier one.
const fenceTTL = 24 * time.Hour

// keySuffixes name the two keys of one lock: the lock itself and its fence
// counter. They share the hash tag of the user's key, so one script may
// touch both on a Cluster.
var keySuffixes = []string{":l", ":f"}

// engine is what Client and Redlock share: a set of nodes and the vote it
// takes of them. A Client is an engine of one node that needs its one vote.
type engine struct {
	res     *settings.Resolved
	nodes   []node
	quorum  int
	redlock bool
	space   keys.Space
	clock   func() time.Time
	tel     *instruments
}

// node is one independent Redis (or Cluster) and the deadline of its calls.
type node struct {
	client redis.UniversalClient
	call   rediscall.Caller
}

func newEngine(res *settings.Resolved, clients []redis.UniversalClient, opts Options, redlock bool) engine {
	e := engine{
		res:     res,
		quorum:  len(clients)/2 + 1,
		redlock: redlock,
		space:   keys.NewSpace(res.Prefix, "lock", ""),
		clock:   opts.Clock,
		tel:     newInstruments(opts),
	}
	for _, c := range clients {
		e.nodes = append(e.nodes, node{client: c, call: rediscall.New(c, opts.Timeout)})
	}
	return e
}

// keys returns the lock key and the fence counter key of the user's key.
func (e *engine) keys(key string) []string {
	return e.space.TaggedSet(key, keySuffixes)
}

// drift is the allowance for clocks running at different rates that Redlock
// subtracts from a lock's validity: 1% of the TTL plus 2ms, as in the
// Redlock description. A single Redis needs none: one server keeps the time.
func (e *engine) drift(ttl time.Duration) time.Duration {
	if !e.redlock {
		return 0
	}
	return ttl/100 + 2*time.Millisecond
}

// nodeLimit is the extra deadline of one node's Obtain or Refresh call on
// Redlock: a tenth of the TTL, so that a dead node cannot eat the validity
// of a lock that the others grant. Zero (none) on a single Redis.
func (e *engine) nodeLimit(ttl time.Duration) time.Duration {
	if !e.redlock {
		return 0
	}
	return ttl / 10
}

// reply is one node's answer to a script: n > 0 means yes (the lock was
// obtained, released, refreshed or is held), n == 0 no, err no answer.
type reply struct {
	n   int64
	err error
}

// all runs s on every node, concurrently when there are several, each call
// under its node's deadline and, if limit > 0, under limit as well.
func (e *engine) all(ctx context.Context, limit time.Duration, s *script.Script, ks []string, args ...interface{}) []reply {
	out := make([]reply, len(e.nodes))
	run := func(i int) {
		n := e.nodes[i]
		cctx := ctx
		if limit > 0 {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, limit)
			defer cancel()
		}
		var v int64
		err := n.call.DoScriptMeasured(cctx, e.tel.ops[s], func(ctx context.Context) error {
			var err error
			v, err = s.Run(ctx, n.client, ks, args...).Int64()
			return err
		})
		if err != nil {
			// v is not read: a call abandoned at its deadline may still
			// write it.
			out[i] = reply{err: err}
			return
		}
		out[i] = reply{n: v}
	}
	if len(e.nodes) == 1 {
		run(0)
		return out
	}
	var wg sync.WaitGroup
	for i := range e.nodes {
		wg.Go(func() { run(i) })
	}
	wg.Wait()
	return out
}

// tally counts the yes and no answers and collects the errors.
func tally(rs []reply) (yes, no int, errs []error) {
	for _, r := range rs {
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.n > 0:
			yes++
		default:
			no++
		}
	}
	return yes, no, errs
}

// verdict turns the answers to release or refresh into an error: nil when a
// quorum said yes, ErrNotHeld when so many said no that a quorum cannot have
// the lock, and the nodes' errors, naming op and key, otherwise.
func (e *engine) verdict(op, key string, rs []reply) error {
	err := e.vote(rs)
	if err == nil || err == ErrNotHeld {
		return err
	}
	return fmt.Errorf("lock: %s %q: %w", op, key, err)
}

// vote is verdict without naming the operation and the key, for errors
// that are logged.
func (e *engine) vote(rs []reply) error {
	yes, no, errs := tally(rs)
	switch {
	case yes >= e.quorum:
		return nil
	case no > len(e.nodes)-e.quorum:
		return ErrNotHeld
	}
	return errors.Join(errs...)
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkTTL validates a lock TTL and truncates it to whole milliseconds,
// which is what Redis keeps.
func checkTTL(ttl time.Duration) (time.Duration, error) {
	if ttl < time.Millisecond {
		return 0, fmt.Errorf("lock: ttl %v is below the 1ms Redis resolution", ttl)
	}
	return ttl.Truncate(time.Millisecond), nil
}

func (e *engine) obtain(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions) (*Lock, error) {
	ttl, err := checkTTL(ttl)
	if err != nil {
		return nil, err
	}
	var retry RetryStrategy = noRetry{}
	if opts != nil && opts.Retry != nil {
		retry = opts.Retry
	}
	if len(e.nodes) == 0 {
		return nil, errors.New("lock: use New or NewRedlock; the zero value is invalid")
	}
	l := &Lock{e: e, key: key, keys: e.keys(key), token: newToken()}
	start := time.Now()
	for attempts := 1; ; attempts++ {
		held, errs, err := e.try(ctx, l, ttl)
		switch {
		case held:
			e.tel.count(ctx, outcomeObtained)
			return l, nil
		case rediscall.Ended(ctx) != nil:
			// The caller's context ended: whatever failed, that is why.
			return nil, notObtained(rediscall.Ended(ctx), nil)
		case err != nil:
			return nil, err
		}
		e.tel.count(ctx, outcomeContended)
		wait, again := retry.NextBackoff(attempts, time.Since(start))
		if !again {
			return nil, notObtained(nil, errs)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, notObtained(ctx.Err(), errs)
		case <-t.C:
		}
	}
}

// notObtained returns ErrNotObtained, wrapping why waiting ended early and
// what the nodes that did not answer said, if anything.
func notObtained(cause error, nodeErrs []error) error {
	if cause == nil && len(nodeErrs) == 0 {
		return ErrNotObtained
	}
	return fmt.Errorf("%w: %w", ErrNotObtained, errors.Join(append([]error{cause}, nodeErrs...)...))
}

// try makes one attempt to obtain l on every node. On success it fills in
// l's fence, TTL and validity. On failure it releases whatever nodes it may
// have taken, and returns the nodes' errors: on a single Redis as err (a
// failure, not contention), on Redlock as errs (votes not cast).
func (e *engine) try(ctx context.Context, l *Lock, ttl time.Duration) (held bool, errs []error, err error) {
	now := ""
	if e.clock != nil {
		now = fmt.Sprint(e.clock().UnixMicro())
	}
	sent := time.Now()
	rs := e.all(ctx, e.nodeLimit(ttl), obtainScript, l.keys, l.token, ttl.Milliseconds(),
		max(fenceTTL, ttl).Milliseconds(), now)
	validity := ttl - time.Since(sent) - e.drift(ttl)
	yes, _, errs := tally(rs)
	if yes >= e.quorum && validity > 0 {
		for _, r := range rs {
			if r.err == nil {
				l.fence = max(l.fence, r.n)
			}
		}
		l.ttl, l.validUntil = ttl, sent.Add(ttl-e.drift(ttl))
		return true, nil, nil
	}
	if yes > 0 || len(errs) > 0 {
		// Undo what this attempt may have taken, on every node: a node that
		// did not answer in time may still have run the script.
		_ = e.releaseDetached(ctx, l, ttl)
	}
	if !e.redlock && len(errs) > 0 {
		return false, nil, fmt.Errorf("lock: obtain %q: %w", l.key, errs[0])
	}
	return false, errs, nil
}

// releaseDetached releases l everywhere with a context that ctx's
// cancellation does not end, bounded by ttl (after which the lock expires
// by itself anyway) and by each node's deadline. Its error does not name
// the lock: nil, ErrNotHeld or the nodes' errors.
func (e *engine) releaseDetached(ctx context.Context, l *Lock, ttl time.Duration) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ttl)
	defer cancel()
	return e.vote(e.all(rctx, 0, releaseScript, l.keys[:1], l.token))
}

func (e *engine) do(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions, fn func(ctx context.Context) error) (err error) {
	t := e.tel.t
	if t.On && trace.SpanContextFromContext(ctx).IsValid() {
		// A span for the whole critical section, as a child of the
		// caller's span; the lock's key is not an attribute (it may hold
		// client data).
		var span trace.Span
		ctx, span = t.Tracer.Start(ctx, "redisware.lock", trace.WithSpanKind(trace.SpanKindInternal))
		defer func() {
			outcome := "done"
			switch {
			case errors.Is(err, ErrNotObtained):
				outcome = "not_obtained"
			case errors.Is(err, ErrLost):
				outcome = "lost"
			case err != nil:
				outcome = "error"
			}
			span.SetAttributes(telemetry.Outcome.String(outcome))
			span.End()
		}()
	}
	l, err := e.obtain(ctx, key, ttl, opts)
	if err != nil {
		return err
	}
	lctx, stop := l.AutoRefresh(ctx, 0)
	// Deferred, so that it runs when fn panics too (the panic goes on).
	defer func() {
		lost := errors.Is(context.Cause(lctx), ErrLost)
		stop()
		// A lock found gone at release was lost while fn ran, even if no
		// refresh noticed (deleted behind our back, a failover). Any other
		// failure is not fn's business: the lock expires within its TTL.
		switch rerr := e.releaseDetached(ctx, l, l.currentTTL()); {
		case errors.Is(rerr, ErrNotHeld):
			lost = true
		case rerr != nil:
			e.res.Report(context.WithoutCancel(ctx), "lock: release after Do failed; the lock expires by itself within its TTL",
				fmt.Errorf("lock: release: %w", rerr))
		}
		if lost {
			err = errors.Join(fmt.Errorf("%w: %q while the function ran", ErrLost, key), err)
		}
	}()
	return fn(lctx)
}

// autoRefresh implements Lock.AutoRefresh.
func (l *Lock) autoRefresh(ctx context.Context, every time.Duration) (context.Context, func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	ttl := l.currentTTL()
	if every <= 0 || every >= ttl {
		every = ttl / 3
	}

	// The watchdog fires when the validity ends. If a refresh moved the
	// validity meanwhile, it sleeps again until the new end.
	var (
		mu      sync.Mutex
		timer   *time.Timer
		stopped bool
		arm     func()
	)
	arm = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || lctx.Err() != nil {
			return
		}
		left := time.Until(l.validity())
		if left <= 0 {
			l.e.tel.count(context.WithoutCancel(lctx), outcomeLost)
			cancel(ErrLost)
			return
		}
		timer = time.AfterFunc(left, arm)
	}
	arm()

	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-quit:
				return
			case <-tick.C:
			}
			// Other errors (Redis slow or away) are reported and retried
			// on the next tick; the watchdog decides when it is too late.
			err := l.refresh(lctx, l.currentTTL())
			switch {
			case errors.Is(err, ErrNotHeld):
				l.e.tel.count(context.WithoutCancel(lctx), outcomeLost)
				cancel(ErrLost)
				return
			case err != nil && lctx.Err() == nil:
				l.e.res.Report(context.WithoutCancel(lctx), "lock: refreshing a lock failed; retrying at the next tick",
					fmt.Errorf("lock: refresh: %w", err))
			}
		}
	}()

	var once sync.Once
	return lctx, func() {
		once.Do(func() {
			close(quit)
			<-done
			mu.Lock()
			stopped = true
			if timer != nil {
				timer.Stop()
			}
			mu.Unlock()
			cancel(context.Canceled)
		})
	}
}

// ttlOfQuorum returns the TTL that a quorum of nodes still grants: the
// quorum-th longest of the nodes' TTLs.
func (e *engine) ttlOfQuorum(key string, rs []reply) (time.Duration, error) {
	yes, no, errs := tally(rs)
	switch {
	case yes >= e.quorum:
		var ms []int64
		for _, r := range rs {
			if r.err == nil && r.n > 0 {
				ms = append(ms, r.n)
			}
		}
		slices.Sort(ms)
		return time.Duration(ms[len(ms)-e.quorum]) * time.Millisecond, nil
	case no > len(e.nodes)-e.quorum:
		return 0, nil
	}
	return 0, fmt.Errorf("lock: ttl %q: %w", key, errors.Join(errs...))
}
