package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core/lock"
	"github.com/redisware/redisware/core/redistest"
)

// obtainer is what Client and Redlock have in common, for tests that run
// on both.
type obtainer interface {
	Obtain(ctx context.Context, key string, ttl time.Duration, opts *lock.ObtainOptions) (*lock.Lock, error)
	Do(ctx context.Context, key string, ttl time.Duration, opts *lock.ObtainOptions, fn func(ctx context.Context) error) error
}

// race has total goroutines, spread over the lockers, call Obtain on one key
// at once, retrying as retry says, and returns how many got the lock and
// how many got ErrNotObtained; any other error fails the test. With
// stopOnWin the first winner cancels the others' waiting (their context),
// so that they need not wait out the strategy's maxWait.
func race(t *testing.T, lockers []obtainer, total int, retry lock.RetryStrategy, stopOnWin bool) (won, lost int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wins, losses, failures atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < total; i++ {
		l := lockers[i%len(lockers)]
		wg.Go(func() {
			<-start
			_, err := l.Obtain(ctx, "contended", time.Minute, &lock.ObtainOptions{Retry: retry})
			switch {
			case err == nil:
				wins.Add(1)
				if stopOnWin {
					cancel()
				}
			case errors.Is(err, lock.ErrNotObtained):
				losses.Add(1)
			default:
				failures.Add(1)
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d calls failed", failures.Load(), total)
	}
	return wins.Load(), losses.Load()
}

// Four clients, each with its own connection pool as four app servers
// would have, and 50 goroutines try to take one lock at once: exactly one
// gets it.
func TestOneWinnerUnderContention(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var lockers []obtainer
	for i := 0; i < 4; i++ {
		lockers = append(lockers, newClient(t, srv))
	}
	if won, lost := race(t, lockers, 50, lock.NoRetry(), false); won != 1 || lost != 49 {
		t.Fatalf("%d obtained and %d refused, want exactly 1 and 49", won, lost)
	}
}

// exclusion runs perLocker goroutines per locker, each calling Do rounds
// times around a critical section that must never be entered twice at
// once, and checks that every run happened, one at a time.
func exclusion(t *testing.T, lockers []obtainer, perLocker, rounds int) {
	t.Helper()
	var (
		inside   atomic.Int32
		overlaps atomic.Int64
		done     atomic.Int64
		counter  int // unprotected: guarded by the distributed lock alone
		wg       sync.WaitGroup
	)
	opts := &lock.ObtainOptions{Retry: lock.ExponentialRetry(time.Millisecond, 10*time.Millisecond, 2*time.Minute)}
	section := func(ctx context.Context) error {
		// The CompareAndSwap and Store also give the race detector the
		// happens-before edges that the lock, going through Redis, gives
		// the program.
		if !inside.CompareAndSwap(0, 1) {
			overlaps.Add(1)
			return nil
		}
		counter++
		time.Sleep(time.Millisecond) // widen the window for an overlap
		inside.Store(0)
		return nil
	}
	for _, l := range lockers {
		for g := 0; g < perLocker; g++ {
			wg.Go(func() {
				for r := 0; r < rounds; r++ {
					if err := l.Do(context.Background(), "section", 10*time.Second, opts, section); err != nil {
						t.Error(err)
						return
					}
					done.Add(1)
				}
			})
		}
	}
	wg.Wait()
	want := int64(len(lockers) * perLocker * rounds)
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("the critical section was entered %d times while occupied", n)
	}
	if done.Load() != want || int64(counter) != want {
		t.Fatalf("%d Do calls succeeded and the counter is %d, want %d", done.Load(), counter, want)
	}
}

func TestMutualExclusion(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var lockers []obtainer
	for i := 0; i < 4; i++ {
		lockers = append(lockers, newClient(t, srv))
	}
	exclusion(t, lockers, 8, 5)
}
