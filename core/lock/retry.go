package lock

import (
	"math/rand/v2"
	"time"
)

// minInterval is the shortest wait a strategy of this package hands out
// when asked for less (jitter aside), so that a zero argument cannot turn
// Obtain into a loop hammering Redis.
const minInterval = time.Millisecond

// RetryStrategy decides whether Obtain tries again after finding the lock
// held by another owner, and after how long.
//
// A strategy is asked afresh on every attempt and keeps no state between
// calls, so one value can serve any number of concurrent Obtain calls.
// Implementations must be safe for concurrent use.
type RetryStrategy interface {
	// NextBackoff returns how long Obtain waits before its next attempt,
	// or false to give up. attempts is the number of attempts made so far
	// (1 after the first) and elapsed the time since the first one began.
	// The context given to Obtain bounds the wait as well: when it ends
	// first, Obtain gives up at once.
	NextBackoff(attempts int, elapsed time.Duration) (wait time.Duration, retry bool)
}

// NoRetry returns the strategy that tries once. A nil
// ObtainOptions.Retry means the same.
func NoRetry() RetryStrategy { return noRetry{} }

type noRetry struct{}

func (noRetry) NextBackoff(int, time.Duration) (time.Duration, bool) { return 0, false }

// LinearRetry returns a strategy that tries again every interval until
// maxWait has passed since the first attempt. The last wait is shortened so
// that no attempt starts later than maxWait after the first; Obtain thus
// returns within maxWait plus one attempt (itself bounded by
// Settings.Timeout). maxWait is the only limit: it is never derived from the
// lock's TTL. maxWait of zero or less means a single attempt; an interval
// under 1ms is taken as 1ms.
func LinearRetry(interval, maxWait time.Duration) RetryStrategy {
	return linearRetry{interval: max(interval, minInterval), maxWait: maxWait}
}

type linearRetry struct{ interval, maxWait time.Duration }

func (r linearRetry) NextBackoff(_ int, elapsed time.Duration) (time.Duration, bool) {
	left := r.maxWait - elapsed
	if left <= 0 {
		return 0, false
	}
	return min(r.interval, left), true
}

// ExponentialRetry returns a strategy that waits a random time ("full
// jitter") between zero and a ceiling that starts at minBackoff and doubles
// after every attempt up to maxBackoff, until maxWait has passed since the
// first attempt. Jitter keeps contenders that collided once from colliding
// again in lockstep. As with LinearRetry, no attempt starts later than
// maxWait after the first, and maxWait is never derived from the TTL.
// maxWait of zero or less means a single attempt; minBackoff under 1ms is
// taken as 1ms, and maxBackoff under minBackoff as minBackoff.
func ExponentialRetry(minBackoff, maxBackoff, maxWait time.Duration) RetryStrategy {
	lo := max(minBackoff, minInterval)
	return exponentialRetry{min: lo, max: max(maxBackoff, lo), maxWait: maxWait}
}

type exponentialRetry struct{ min, max, maxWait time.Duration }

func (r exponentialRetry) NextBackoff(attempts int, elapsed time.Duration) (time.Duration, bool) {
	left := r.maxWait - elapsed
	if left <= 0 {
		return 0, false
	}
	return min(rand.N(r.ceiling(attempts)+1), left), true
}

// ceiling returns min(max, min·2^(attempts-1)), without overflow.
func (r exponentialRetry) ceiling(attempts int) time.Duration {
	shift := max(attempts-1, 0)
	if shift >= 62 || r.min > r.max>>shift {
		return r.max
	}
	return r.min << shift
}
