// Package lock is a distributed lock on Redis: on one server or a Redis
// Cluster (Client), or over several independent masters (Redlock).
//
//	locker, err := lock.New(rdb, lock.Options{Settings: shared}) // shared core.Settings
//	...
//	err = locker.Do(ctx, "invoice:42", 10*time.Second, nil, func(ctx context.Context) error {
//		return render(ctx, 42) // stop when ctx ends: the lock was lost
//	})
//	if errors.Is(err, lock.ErrNotObtained) { /* someone else is rendering it */ }
//
// Obtain is one round trip: a Lua script sets the lock key with NX and a
// TTL to a random owner token and, in the same step, hands out a fencing
// token. Release, Refresh and TTL act only when the key still holds the
// caller's token, compared inside Lua, so an owner whose lock expired and
// was taken by another cannot release or extend the other's lock. A lock
// always has a TTL: a crashed owner's lock frees itself. AutoRefresh keeps a
// lock alive while work goes on and says, through a context, the moment the
// lock is lost; Do wraps obtain, auto-refresh and release around a function.
//
// Obtain tries once unless ObtainOptions.Retry says otherwise. LinearRetry
// and ExponentialRetry (with full jitter) take an explicit maxWait, the
// total time to keep trying; it is never derived from the TTL, and the
// context's deadline bounds it too.
//
// # Efficiency or correctness
//
// A lock is taken for one of two reasons. For efficiency, to keep several
// servers from doing the same work twice (rendering one report, sending one
// reminder): a lock on one Redis is enough, since in the rare case that two
// holders overlap the cost is some duplicate work. For correctness, when two
// holders overlapping would corrupt data: then no lock with a TTL is enough
// by itself, because its holder can be paused for longer than the TTL (a
// garbage-collection pause, a swapped page, a network delay) and resume
// believing it still holds the lock. Martin Kleppmann's example:
//
//	client 1 obtains the lock, fencing token 33
//	client 1 pauses (GC) past the TTL; the lock expires
//	client 2 obtains the lock, fencing token 34, and writes to the store with 34
//	client 1 resumes and writes to the store with 33
//
// Without fencing both writes land and client 2's work is corrupted. With
// fencing the store remembers the largest token it has accepted and rejects
// 33 < 34. So, for correctness: send Lock.Fence with every write, and have
// the protected store refuse a write whose token is lower than the last one
// it saw (a conditional UPDATE ... WHERE fence <= $1, a compare-and-set).
//
// # Fencing tokens
//
// Every key has a TTL, the fence counter included, yet the tokens of one
// key must never go backwards. Obtain therefore makes each token
//
//	fence = max(last token + 1, the Redis server's TIME in microseconds)
//
// and stores it with a TTL of 24 hours (or the lock's TTL, if longer). While
// the counter lives, tokens grow by the counter; once it has expired, the
// clock alone still yields a token above every earlier one, since each of
// those was at most the clock reading at its time. This holds as long as the
// server's clock does not go back (and, after a failover, as long as the new
// master's clock is not behind the old one's); the counter absorbs small
// steps back. Options.Clock replaces TIME by the application's clock for
// Redis-compatible servers that refuse TIME in scripts.
//
// Redis replication is asynchronous: after a failover the new master may not
// have the lock at all, and a second owner can obtain it. Fencing is what
// keeps the protected store safe in that case too.
//
// # Redlock
//
// Redlock obtains the lock on N independent masters at once (N = 5
// tolerates two failed masters) with one token, each call bounded by a tenth
// of the TTL, and holds it when a majority granted it and the validity left,
// TTL − time taken − drift (TTL/100 + 2ms), is positive; otherwise it
// releases on every master. It keeps working while a minority of masters is
// down; a single Redis does not, and a replicated one that fails over can
// lose the lock in the switch.
//
// What it does not guarantee: safety rests on timing assumptions, namely
// bounded clock drift between the masters and the client, and no process
// pause or network delay longer than the validity. A master whose clock
// jumps forward, or that restarts without persistence, can free the lock
// early and let a second owner in; and a client paused past the validity
// acts on a lock it no longer holds, as above. Nor can Redlock give
// monotonic fencing tokens: the masters granting one acquisition need not
// have seen the last one, so Lock.Fence (the largest token of the granting
// masters) may go backwards, and must NOT be relied on for correctness. This
// is Martin Kleppmann's critique ("How to do distributed locking", 2016);
// antirez replied ("Is Redlock safe?") that the timing assumptions hold in
// practice and that a pause after obtaining hurts every lock with a TTL, not
// Redlock alone; they did not agree. Use Redlock where a lock should
// survive the loss of a Redis and overlap is a matter of efficiency; where
// correctness depends on it, use a consensus system (etcd, ZooKeeper) that
// gives monotonic tokens, and fencing.
//
// # Keys and failures
//
// A lock named key is the Redis key <prefix>lock:{<escaped key>}:l, and
// its fence counter <prefix>lock:{<escaped key>}:f; both share a hash
// tag, so one script reaches both on a Cluster. Every Redis call has a
// deadline (100ms by default, Settings.Timeout). A Redis failure during
// Obtain on a Client is returned as an error, not as ErrNotObtained. The
// failures the lock does not return, a release that fails at the end of Do
// and a refresh of AutoRefresh that fails (and is retried), are logged at
// warn level (Settings.Logger) and passed to Settings.OnError.
//
// New and NewRedlock take Options, which embed the deployment's shared
// core.Settings as every redisware core's Options do; they validate them
// once, up front, and an error names the field that cannot work.
//
// New logs one warning at start-up when the server's maxmemory-policy may
// evict its keys (allkeys-* or volatile-*: every redisware key has a TTL);
// keep locks on a Redis with noeviction (README, Running Redis in
// production).
package lock
