package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/settings"
)

// Redlock obtains locks over several independent Redis masters with the
// Redlock algorithm: a lock is held when a majority of the masters granted
// it within a time well under its TTL. It tolerates the loss of a minority
// of the masters. Read what it does not guarantee in the package
// documentation before relying on it for correctness. It is safe for
// concurrent use; create one with NewRedlock. The zero value is invalid.
type Redlock struct {
	e engine
}

// NewRedlock returns a Redlock over clients, one per independent master
// (not replicas of one another, nor nodes of one Cluster: their failures
// must be independent). Five masters tolerate two failures, three tolerate
// one. The quorum is len(clients)/2 + 1. Options apply to every master;
// see Options.Settings for the deadline of each node's calls. An empty
// list, a nil client or one listed twice is an error wrapping
// core.ErrConfig, as is an option that cannot work.
func NewRedlock(clients []redis.UniversalClient, opts Options) (*Redlock, error) {
	if len(clients) == 0 {
		return nil, fmt.Errorf("lock: %w: Redlock needs at least one Redis client", core.ErrConfig)
	}
	seen := make(map[redis.UniversalClient]bool, len(clients))
	for i, c := range clients {
		if c == nil {
			return nil, fmt.Errorf("lock: %w: Redis client %d is nil", core.ErrConfig, i)
		}
		if seen[c] {
			return nil, fmt.Errorf("lock: %w: Redis client %d appears twice; it would vote twice", core.ErrConfig, i)
		}
		seen[c] = true
	}
	res, err := settings.Resolve("lock", clients[0], opts.Settings)
	if err != nil {
		return nil, err
	}
	res.WarnIfEvicting("locks (two owners may hold one lock)", clients...)
	return &Redlock{e: newEngine(res, clients, opts, true)}, nil
}

// Obtain takes the lock named key for ttl on every master at once, with the
// same owner token, each call bounded by a tenth of ttl (and
// Settings.Timeout). The lock is held when a quorum of masters granted it
// and its validity, ttl minus the time taken minus a clock drift allowance
// of ttl/100 + 2ms, is still positive; otherwise Obtain releases it on
// every master and tries again as opts.Retry says. A master that fails or
// does not answer counts as a refusal; when Obtain finally gives up it
// returns an error wrapping ErrNotObtained and those masters' errors.
//
// Contenders that try at the same moment can split the vote so that none
// gets a quorum; all then release and retry. Use a jittered strategy such
// as ExponentialRetry, and expect Redlock to suit locks contended by a few
// processes at a time, not by hundreds.
//
// The fencing token of the returned lock is the largest of the granting
// masters' tokens. It is NOT guaranteed to grow from one acquisition to the
// next, since the masters that grant one acquisition need not have seen the
// previous one; see the package documentation.
func (r *Redlock) Obtain(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions) (*Lock, error) {
	return r.e.obtain(ctx, key, ttl, opts)
}

// Do is Client.Do over Redlock: obtain, auto-refresh while fn runs (each
// refresh needs a quorum), release on every master.
func (r *Redlock) Do(ctx context.Context, key string, ttl time.Duration, opts *ObtainOptions, fn func(ctx context.Context) error) error {
	return r.e.do(ctx, key, ttl, opts, fn)
}
