package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/clientip"
	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/settings"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// DefaultDenyCacheSize is how many denied keys a Limiter remembers locally
// when Options.DenyCacheSize is zero.
const DefaultDenyCacheSize = 10000

// DefaultIPv6Prefix is how many leading bits of an IPv6 address name one
// client of the default key when Options.IPv6Prefix is zero.
const DefaultIPv6Prefix = 64

// RetryNever is the RetryAfter of a request whose cost is larger than a
// limit's burst (GCRA) or rate (window algorithms): no amount of waiting
// admits it.
const RetryNever time.Duration = -1

var (
	// ErrInvalidCost is returned for a cost below 1.
	ErrInvalidCost = errors.New("ratelimit: cost must be at least 1")
	// ErrRedis wraps every failure to get an answer from Redis in time.
	ErrRedis = errors.New("ratelimit: redis unavailable")
)

// Options configures a Limiter: the policy (Limits, Algorithm, Name), what
// happens when Redis fails, and the HTTP side (Key to Skip) that the
// nethttp, ginmw and echomw adapters mount. Name and Limits are required;
// New rejects a field that cannot work, naming it.
type Options struct {
	// Settings are the deployment-wide settings (core.Settings): key
	// prefix, call timeout, logger, error hook, telemetry providers,
	// trusted proxies, secret and rejection writer. Copy the shared value
	// in; a field set here after that applies to this limiter only.
	//
	// The limiter uses Prefix; Timeout (when it passes, the failure policy
	// applies at once); Logger and OnError (every Redis failure, wrapping
	// ErrRedis; client keys never appear in log lines); MeterProvider
	// (redisware.ratelimit.decisions by policy and outcome,
	// redisware.ratelimit.deny_cache.hits, redisware.redis.duration);
	// TracerProvider (a span per HTTP decision, a child of the request's
	// span); TrustedProxies (the client address of the default key); and
	// OnReject (every rejection: 429, 503, 400 and 500; the request it is
	// given carries the Result, see ResultFromContext). Secret is unused.
	core.Settings
	// Limits are the rules, all checked together in one atomic Redis
	// call: a request passes only if every limit admits it, and a denied
	// request consumes none of them. At least one is required, and limits
	// must have distinct names.
	Limits []Limit
	// Algorithm is how the limits count. Zero is GCRA.
	Algorithm Algorithm
	// Name is the policy name, and it is required: it is part of every
	// key, so limiters with different names never share counts, and
	// limiters with the same name, algorithm and limits do, on any number
	// of servers. Give each policy a name of its own ("login", "search"),
	// and the same name to the instances of one policy on every server:
	// two routes mounted with same-named limiters share one budget. The
	// name also labels the policy's metrics and log lines and, when the
	// policy has one unnamed limit, names that limit in the RateLimit
	// headers.
	Name string
	// FailClosed denies requests (503 over HTTP) when Redis cannot answer
	// in time. The default (false) fails open: requests pass, and the
	// error is reported. Choose closed where an unlimited burst would hurt
	// more than an outage, such as login attempts.
	FailClosed bool
	// Clock, when set, supplies the current time, which is sent to Redis
	// with each call. By default the scripts read the Redis server's
	// clock, so application servers with skewed clocks agree; set Clock
	// for Redis-compatible servers that refuse TIME in scripts, or for
	// tests. All instances sharing a policy should then have synchronised
	// clocks.
	Clock func() time.Time
	// DenyCacheSize bounds the local deny cache, in entries: once Redis
	// denies a key for a duration d, this Limiter answers that key itself
	// until d has passed, which keeps a flooding client from reaching
	// Redis. The cache is exact: it never denies what Redis would admit.
	// Zero means DefaultDenyCacheSize entries; negative disables it.
	DenyCacheSize int
	// Key names the client a request counts against: an API key, a user
	// ID. Zero means the client address: the connection's, or the one
	// forwarded by a proxy listed in Settings.TrustedProxies, with IPv6
	// addresses grouped by IPv6Prefix. A Key that returns ("", nil) means
	// the client address for that request too, so
	//
	//	Key: func(r *http.Request) (string, error) { return userID(r), nil }
	//
	// limits signed-in users by account and, as userID returns "" for an
	// anonymous request, everyone else by address: no chain of key
	// functions is needed. Keys and addresses share one space: if a Key's values
	// could read as an address, prefix them ("user:" + id). An error
	// wrapping ErrNoKey answers 400; any other error answers 500.
	Key KeyFunc
	// IPv6Prefix is how many leading bits of an IPv6 address name one
	// client when the key is the client address: a single host usually
	// controls a whole /64, so counting addresses one by one would let it
	// multiply its quota. Zero means DefaultIPv6Prefix (64); 128 counts
	// each address; it must be 0 to 128. IPv4 addresses count whole.
	IPv6Prefix int
	// PerRoute prefixes the key with the request's route (core.Route: the
	// method and the route pattern the router matched, in one form for
	// every framework, or core.NoRoute), so one limiter mounted on a group
	// keeps a separate budget per route. The raw URL path is never used.
	PerRoute bool
	// Cost returns the units a request consumes. Zero means 1 for every
	// request. A cost below 1 is a server error (500).
	Cost func(r *http.Request) int
	// Skip, when it returns true, lets the request through untouched: no
	// Redis call, no headers, no Result in its context. Use it for health
	// checks and allow-listed clients.
	Skip func(r *http.Request) bool
	// Shadow computes decisions, reports denials and sets the RateLimit
	// headers, but never denies: a safe way to try a new limit in
	// production. A shadow limiter does not fail closed either.
	Shadow bool
	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (seconds from now) for clients that predate the
	// RateLimit headers.
	LegacyHeaders bool
	// OnDeny, when set, is told of every denial over HTTP, real or (shadow
	// true) in shadow mode, including the deny cache's answers. It must
	// not write a response: Settings.OnReject does that.
	OnDeny func(r *http.Request, res Result, shadow bool)
}

// Limiter checks requests against a set of limits kept in Redis: directly
// (Allow, Peek, Reset) or over HTTP as a core.Middleware (Serve), which the
// nethttp, ginmw and echomw adapters mount. It is safe for concurrent use;
// create one per policy and share it.
type Limiter struct {
	res        *settings.Resolved
	client     redis.UniversalClient
	call       rediscall.Caller // Reset's calls
	calls      *caller          // the decisions' script calls
	algorithm  Algorithm
	name       string
	limits     []Limit
	space      keys.Space
	suffixes   []string       // per key of a request, after the hash tag
	general    *script.Script // the script of every call packed does not make
	nkeys      string         // how many keys general takes, as sent
	limitArgs  []interface{}  // general's rate, period in µs, burst for each limit
	packed     *script.Script // gcraOne or fixedWindowOne, or nil
	packedArgs []interface{}  // packed's arguments after the cost
	packedMax  int            // the largest cost packed takes
	failClosed bool
	clock      func() time.Time
	deny       *denyCache
	tel        *instruments

	// the HTTP side
	key      KeyFunc
	ip       *clientip.Resolver
	perRoute bool
	cost     func(*http.Request) int
	skip     func(*http.Request) bool
	shadow   bool
	legacy   bool
	onDeny   func(*http.Request, Result, bool)
	policy   string   // the RateLimit-Policy header value
	exceeded []string // per limit: the start of a 429's detail
	// per limit: a 429's problem body up to the tail of its detail
	problemHead []string
	quoted      []string // per limit: its name as an RFC 9651 string
}

var _ core.Middleware = (*Limiter)(nil)

// New returns a Limiter on client. It validates opts once, up front: an
// option that cannot work is an error that names it and wraps
// core.ErrConfig (and ErrInvalidLimit for Options.Limits).
func New(client redis.UniversalClient, opts Options) (*Limiter, error) {
	res, err := settings.Resolve("ratelimit", client, opts.Settings)
	if err != nil {
		return nil, err
	}
	if len(opts.Limits) == 0 {
		return nil, &limitError{res.Invalid("Limits", "is empty; give at least one Limit")}
	}
	if opts.Name == "" {
		return nil, res.Invalid("Name", "is required: limiters with the same name, algorithm and limits share their counts, so each policy needs a name of its own")
	}
	if opts.Algorithm < GCRA || opts.Algorithm > FixedWindow {
		return nil, res.Invalid("Algorithm", "%v is unknown; use GCRA, SlidingWindowLog, SlidingWindowCounter or FixedWindow", opts.Algorithm)
	}
	if opts.IPv6Prefix < 0 || opts.IPv6Prefix > 128 {
		return nil, res.Invalid("IPv6Prefix", "%d is outside 0..128 (0 means %d)", opts.IPv6Prefix, DefaultIPv6Prefix)
	}
	trusted, _ := core.ParseTrustedProxies(opts.TrustedProxies) // validated by Resolve
	ip, err := clientip.New(trusted, opts.IPv6Prefix)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w: Settings.TrustedProxies: %w", core.ErrConfig, err)
	}
	calls, err := newCaller(client, opts.Timeout)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w: %w", core.ErrConfig, err)
	}
	l := &Limiter{
		res:        res,
		client:     client,
		call:       res.Call,
		calls:      calls,
		general:    scripts[opts.Algorithm],
		algorithm:  opts.Algorithm,
		name:       opts.Name,
		failClosed: opts.FailClosed,
		clock:      opts.Clock,
		key:        opts.Key,
		ip:         ip,
		perRoute:   opts.PerRoute,
		cost:       opts.Cost,
		skip:       opts.Skip,
		shadow:     opts.Shadow,
		legacy:     opts.LegacyHeaders,
		onDeny:     opts.OnDeny,
	}
	seen := map[string]int{}
	for i, lim := range opts.Limits {
		if err := lim.Validate(); err != nil {
			return nil, &limitError{res.Invalid(fmt.Sprintf("Limits[%d]", i), "(%v): %s", lim, strings.TrimPrefix(err.Error(), ErrInvalidLimit.Error()+": "))}
		}
		if opts.Algorithm != GCRA && lim.Burst != 0 && lim.Burst != lim.Rate {
			return nil, &limitError{res.Invalid(fmt.Sprintf("Limits[%d]", i), "(%v): burst applies to GCRA only; %v admits Rate per window", lim, opts.Algorithm)}
		}
		if lim.Name == "" {
			if len(opts.Limits) == 1 {
				lim.Name = l.name
				if err := lim.Validate(); err != nil {
					return nil, res.Invalid("Name", "%q names the policy's one unnamed limit in the RateLimit headers, and must be printable ASCII", l.name)
				}
			} else {
				lim.Name = strconv.Itoa(lim.Rate) + "-per-" + lim.Period.String()
			}
		}
		if j, ok := seen[lim.Name]; ok {
			return nil, &limitError{res.Invalid(fmt.Sprintf("Limits[%d]", i), "is named %q like Limits[%d]; give each a distinct Name", lim.Name, j)}
		}
		seen[lim.Name] = i
		l.limits = append(l.limits, lim)
		// The suffix names the rule itself, so changing a limit starts
		// fresh state instead of misreading the old one.
		l.suffixes = append(l.suffixes, keySuffix(opts.Algorithm, lim))
		l.limitArgs = append(l.limitArgs, lim.Rate, lim.Period.Microseconds(), lim.burst())
	}
	if opts.Algorithm == SlidingWindowLog {
		l.suffixes = append(l.suffixes, ":seq")
	}
	l.nkeys = strconv.Itoa(len(l.suffixes))
	if opts.Algorithm == FixedWindow && opts.Clock != nil {
		// The window's start is stored with its count: another layout,
		// so other keys.
		l.general = fixedWindowClock
		for i := range l.suffixes {
			l.suffixes[i] += ":c"
		}
	}
	if len(l.limits) == 1 {
		l.packed, l.packedArgs, l.packedMax = packedScript(opts.Algorithm, l.limits[0], opts.Clock != nil)
	}
	l.space = keys.NewSpace(res.Prefix, "rl", l.name)
	l.tel = newInstruments(l.name, res)
	switch {
	case opts.DenyCacheSize == 0:
		l.deny = newDenyCache(DefaultDenyCacheSize)
	case opts.DenyCacheSize > 0:
		l.deny = newDenyCache(opts.DenyCacheSize)
	}
	for _, lim := range l.limits {
		q, _ := sfString(lim.Name) // Validate checked it
		l.quoted = append(l.quoted, q)
	}
	l.policy, l.exceeded = policyHeader(l.limits, l.quoted), exceededDetails(l.limits)
	l.problemHead = problemHeads(l.exceeded)
	res.WarnIfEvicting("rate-limit counters (clients get fresh budgets)")
	return l, nil
}

// limitError is New's error for Options.Limits: it wraps both
// core.ErrConfig (through err) and ErrInvalidLimit.
type limitError struct{ err error }

func (e *limitError) Error() string   { return e.err.Error() }
func (e *limitError) Unwrap() []error { return []error{e.err, ErrInvalidLimit} }

// Name returns the policy name.
func (l *Limiter) Name() string { return l.name }

// Limits returns the limits, with their names filled in.
func (l *Limiter) Limits() []Limit { return append([]Limit(nil), l.limits...) }

// FailClosed reports whether the limiter denies requests when Redis fails.
func (l *Limiter) FailClosed() bool { return l.failClosed }

// Result is the answer for one request.
type Result struct {
	// Allowed reports whether the request may proceed. When Redis failed,
	// it follows the failure policy (true when failing open).
	Allowed bool
	// Limit is the limit the other fields describe: when denied, the one
	// that denies for longest; when allowed, the one with the fewest
	// units remaining.
	Limit Limit
	// Remaining is how many units Limit still admits right now, after this
	// request if it was allowed. Zero means none: the next request waits.
	Remaining int
	// RetryAfter is how long to wait before a request of the same cost can
	// be admitted. Zero when Allowed; RetryNever (negative) when the cost
	// exceeds a limit's burst and waiting can never help.
	RetryAfter time.Duration
	// ResetAfter is how long until Limit is fully replenished (GCRA: the
	// bucket is full; windows: the window holding the last use has passed).
	// Zero means it is full now.
	ResetAfter time.Duration
	// States holds the same numbers for every limit, in the order of
	// Options.Limits. Nil when Redis failed (or the cost was invalid).
	States []State
	// Local reports that the deny cache answered, without a Redis call.
	Local bool
}

// Never reports whether the request can never be admitted at its cost.
func (r Result) Never() bool { return r.RetryAfter < 0 }

// State is one limit's part of a Result.
type State struct {
	// Limit is the rule, with its name.
	Limit Limit
	// Allowed reports whether this limit alone admits the request.
	Allowed bool
	// Remaining is how many units this limit admits right now (after
	// this request if the request was allowed). Zero means none.
	Remaining int
	// RetryAfter is zero when this limit admits the request, how long
	// until it would otherwise, or RetryNever.
	RetryAfter time.Duration
	// ResetAfter is how long until this limit is fully replenished; zero
	// means now.
	ResetAfter time.Duration
}

// Allow checks and, if every limit admits it, consumes one unit for key.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN checks and, if every limit admits it, consumes cost units for key,
// in one atomic Redis call. key may be any string (a client address, a user
// ID); it is escaped before it becomes part of a Redis key.
//
// If Redis does not answer within the deadline, AllowN returns an error
// wrapping ErrRedis together with a Result whose Allowed follows the
// failure policy; the error has already gone to Settings.OnError and
// Settings.Logger.
func (l *Limiter) AllowN(ctx context.Context, key string, cost int) (Result, error) {
	return l.run(ctx, key, cost, true, false)
}

// Peek reports what Allow would answer for key, without consuming anything.
func (l *Limiter) Peek(ctx context.Context, key string) (Result, error) {
	return l.PeekN(ctx, key, 1)
}

// PeekN reports what AllowN would answer for key and cost, without
// consuming anything; Remaining and ResetAfter describe the state as it is.
func (l *Limiter) PeekN(ctx context.Context, key string, cost int) (Result, error) {
	return l.run(ctx, key, cost, false, false)
}

// Reset forgets every count of key, in one Redis call. It clears this
// Limiter's deny cache for key, before the call and again after it, and
// keeps out every denial of key from a call sent before Reset returned,
// even one whose reply arrives later: after Reset, this Limiter asks Redis
// again. Other instances may still deny key from their own cache until the
// denial they saw would have ended.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if l.deny != nil {
		l.deny.reset(key)
	}
	ks := l.space.TaggedSet(key, l.suffixes)
	err := l.call.DoMeasured(ctx, l.tel.reset, func(ctx context.Context) error {
		return l.client.Del(ctx, ks...).Err()
	})
	if l.deny != nil {
		// A denial sent before the DEL ran may have been filed since the
		// first reset, or may still be on its way: drop the one, bar the
		// other.
		l.deny.reset(key)
	}
	if err != nil {
		return l.fail(ctx, err)
	}
	return nil
}

func (l *Limiter) now() time.Time {
	if l.clock != nil {
		return l.clock()
	}
	return time.Now()
}

// realNow returns sent when it was read from the real clock, else the real
// clock's time.
func (l *Limiter) realNow(sent time.Time) time.Time {
	if l.clock != nil {
		return time.Now()
	}
	return sent
}

// run decides for key; shadow only changes how a denial is counted.
func (l *Limiter) run(ctx context.Context, key string, cost int, consume, shadow bool) (Result, error) {
	if cost < 1 {
		return Result{Limit: l.limits[0]}, ErrInvalidCost
	}
	on := l.tel.on()
	sent := l.now()
	var ticket denyTicket
	if consume && l.deny != nil {
		var (
			probe *denyProbe
			// when waiting for others' calls ends: the deadline of a
			// call made when the first wait began (nil: none yet)
			waitUntil <-chan struct{}
		)
		for {
			// a miss takes the ticket before the call is sent: a Reset
			// from now on keeps this call's denial out of the cache
			res, ok, t, p := l.deny.check(key, cost, sent, !closed(waitUntil), l.calls)
			if ok {
				if on {
					l.tel.counts.local.Add(1)
					l.count(res.Allowed, nil, shadow)
				}
				return res, nil
			}
			if p == nil || t.s != nil {
				ticket, probe = t, p
				break
			}
			// Another request is asking Redis about key: its answer is
			// most likely this one's too. Waiting for others' calls
			// lasts no longer than one call may.
			if waitUntil == nil {
				waitUntil = l.calls.deadline()
			}
			p.wait(ctx.Done(), waitUntil)
			sent = l.now()
		}
		if probe != nil {
			defer l.deny.finish(ticket, key, probe)
		}
	}
	op := l.tel.peek
	if consume {
		op = l.tel.allow
	}
	var (
		res  Result
		next time.Duration
		err  error
	)
	if consume && l.packed != nil && cost <= l.packedMax {
		res, next, err = l.runPacked(ctx, op, on, key, cost, sent)
	} else {
		res, err = l.runGeneral(ctx, op, on, key, cost, consume, sent)
	}
	if err != nil {
		if consume && on {
			l.count(false, err, shadow)
		}
		return Result{Allowed: !l.failClosed, Limit: l.limits[0]}, l.fail(ctx, err)
	}
	if consume {
		if on {
			l.count(res.Allowed, nil, shadow)
		}
		if l.deny != nil {
			switch {
			case res.Allowed && next > 0:
				// This request took what was left: the next one of its
				// cost is denied until next, and the cache can say so.
				l.deny.put(ticket, key, cost, sent, sent.Add(next), exhausted(res, next))
			case res.Allowed:
				l.deny.forget(ticket, key, sent)
			case res.RetryAfter > 0:
				l.deny.put(ticket, key, cost, sent, sent.Add(res.RetryAfter), res)
			}
		}
	}
	return res, nil
}

// runGeneral decides (or peeks) with the algorithm's general script.
func (l *Limiter) runGeneral(ctx context.Context, op *telemetry.RedisOp, on bool, key string, cost int, consume bool, sent time.Time) (Result, error) {
	n := len(l.suffixes)
	args := make([]interface{}, 3+n+3+len(l.limitArgs))
	args[2] = l.nkeys
	if n == 1 {
		args[3] = l.space.Tagged(key, l.suffixes[0])
	} else {
		for i, k := range l.space.TaggedSet(key, l.suffixes) {
			args[3+i] = k
		}
	}
	a := args[3+n:]
	if l.clock != nil {
		a[0] = sent.UnixMicro()
	} else {
		a[0] = ""
	}
	a[1] = cost
	if consume {
		a[2] = "1"
	} else {
		a[2] = "0"
	}
	copy(a[3:], l.limitArgs)
	raw, err := l.calls.eval(ctx, op, on, l.general, args, l.realNow(sent))
	if err != nil {
		return Result{}, err
	}
	return l.decode(raw)
}

// exhausted returns the denial of the request after an admitted res, of
// the same cost, for the next retryAfter.
func exhausted(res Result, retryAfter time.Duration) Result {
	st := res.States[0]
	st.Allowed, st.RetryAfter = false, retryAfter
	return Result{Limit: st.Limit, Remaining: st.Remaining, RetryAfter: retryAfter, ResetAfter: st.ResetAfter, States: []State{st}}
}

// runPacked decides with the packed script of a one-limit policy. An
// admitted request also returns how long another of its cost would be
// denied (see unpack).
func (l *Limiter) runPacked(ctx context.Context, op *telemetry.RedisOp, on bool, key string, cost int, sent time.Time) (Result, time.Duration, error) {
	n := 5 + len(l.packedArgs)
	if l.clock != nil {
		n++
	}
	args := make([]interface{}, n)
	args[2] = "1"
	args[3] = l.space.Tagged(key, l.suffixes[0])
	args[4] = cost
	copy(args[5:], l.packedArgs)
	if l.clock != nil {
		args[n-1] = sent.UnixMicro()
	}
	raw, err := l.calls.eval(ctx, op, on, l.packed, args, l.realNow(sent))
	if err != nil {
		return Result{}, 0, err
	}
	st, next, err := unpack(l.algorithm, l.limits[0], cost, raw)
	if err != nil {
		return Result{}, 0, err
	}
	return Result{Allowed: st.Allowed, Limit: st.Limit, Remaining: st.Remaining, RetryAfter: st.RetryAfter,
		ResetAfter: st.ResetAfter, States: []State{st}}, next, nil
}

// count records one decision.
func (l *Limiter) count(allowed bool, err error, shadow bool) {
	o := outcomeAllowed
	switch {
	case err != nil && l.failClosed:
		o = outcomeFailedClosed
	case err != nil:
		o = outcomeFailedOpen
	case !allowed && shadow:
		o = outcomeShadowDenied
	case !allowed:
		o = outcomeDenied
	}
	l.tel.counts.decided[o].Add(1)
}

func (l *Limiter) decode(reply interface{}) (Result, error) {
	raw, ok := reply.([]interface{})
	if !ok {
		return Result{}, fmt.Errorf("unexpected script reply %T", reply)
	}
	if len(raw) != 4*len(l.limits) {
		return Result{}, fmt.Errorf("unexpected script reply of %d values", len(raw))
	}
	res := Result{Allowed: true, States: make([]State, len(l.limits))}
	pick := -1
	for i := range l.limits {
		var v [4]int64
		for j := range v {
			n, ok := raw[4*i+j].(int64)
			if !ok {
				return Result{}, fmt.Errorf("unexpected script reply %T", raw[4*i+j])
			}
			v[j] = n
		}
		st := State{Limit: l.limits[i], Allowed: v[0] == 1, Remaining: int(max(v[1], 0)), ResetAfter: time.Duration(max(v[3], 0)) * time.Microsecond}
		if v[2] < 0 {
			st.RetryAfter = RetryNever
		} else {
			st.RetryAfter = time.Duration(v[2]) * time.Microsecond
		}
		res.States[i] = st
		if !st.Allowed {
			res.Allowed = false
		}
	}
	for i, st := range res.States {
		switch {
		case pick < 0:
			pick = i
		case !res.Allowed:
			// the longest denial decides; never outranks everything
			cur := res.States[pick]
			if !st.Allowed && (cur.Allowed || st.RetryAfter < 0 || (cur.RetryAfter >= 0 && st.RetryAfter > cur.RetryAfter)) {
				pick = i
			}
		case st.Remaining < res.States[pick].Remaining:
			pick = i
		}
	}
	p := res.States[pick]
	res.Limit, res.Remaining, res.RetryAfter, res.ResetAfter = p.Limit, p.Remaining, p.RetryAfter, p.ResetAfter
	if res.Allowed {
		res.RetryAfter = 0
	}
	return res, nil
}

func (l *Limiter) fail(ctx context.Context, err error) error {
	err = fmt.Errorf("%w: policy %q: %w", ErrRedis, l.name, err)
	l.res.Report(ctx, "ratelimit: redis call failed", err,
		slog.String("policy", l.name), slog.Bool("fail_closed", l.failClosed))
	return err
}
