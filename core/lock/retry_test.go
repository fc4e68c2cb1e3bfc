package lock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redisware/redisware/core/lock"
)

// The strategies are pure functions of (attempts, elapsed): their schedules
// are checked here without sleeping.

func TestNoRetry(t *testing.T) {
	if w, ok := lock.NoRetry().NextBackoff(1, 0); ok || w != 0 {
		t.Fatalf("NoRetry: %v, %v", w, ok)
	}
}

func TestLinearRetry(t *testing.T) {
	const ms = time.Millisecond
	r := lock.LinearRetry(10*ms, 35*ms)
	cases := []struct {
		attempts int
		elapsed  time.Duration
		want     time.Duration
		ok       bool
	}{
		{1, 0, 10 * ms, true},
		{2, 10 * ms, 10 * ms, true},
		{3, 21 * ms, 10 * ms, true},
		{4, 31 * ms, 4 * ms, true}, // shortened: no attempt after maxWait
		{5, 35 * ms, 0, false},
		{6, time.Hour, 0, false},
	}
	for _, c := range cases {
		if w, ok := r.NextBackoff(c.attempts, c.elapsed); w != c.want || ok != c.ok {
			t.Errorf("NextBackoff(%d, %v) = %v, %v; want %v, %v", c.attempts, c.elapsed, w, ok, c.want, c.ok)
		}
	}
	// A whole schedule, as Obtain would walk it with instant attempts.
	var elapsed time.Duration
	var waits []time.Duration
	for n := 1; ; n++ {
		w, ok := r.NextBackoff(n, elapsed)
		if !ok {
			break
		}
		waits = append(waits, w)
		elapsed += w
	}
	if len(waits) != 4 || elapsed != 35*ms {
		t.Fatalf("schedule %v: %d waits totalling %v, want 4 totalling 35ms", waits, len(waits), elapsed)
	}
	if _, ok := lock.LinearRetry(ms, 0).NextBackoff(1, 0); ok {
		t.Fatal("maxWait 0 retried")
	}
	if w, _ := lock.LinearRetry(0, time.Second).NextBackoff(1, 0); w != ms {
		t.Fatalf("interval 0 waits %v, want the 1ms floor", w)
	}
}

func TestExponentialRetry(t *testing.T) {
	const ms = time.Millisecond
	r := lock.ExponentialRetry(2*ms, 50*ms, time.Minute)
	ceilings := []time.Duration{2 * ms, 4 * ms, 8 * ms, 16 * ms, 32 * ms, 50 * ms, 50 * ms}
	for i, ceil := range ceilings {
		attempts := i + 1
		var top time.Duration
		for s := 0; s < 2000; s++ {
			w, ok := r.NextBackoff(attempts, time.Second)
			if !ok || w < 0 || w > ceil {
				t.Fatalf("attempt %d: %v, %v; want a wait in [0, %v]", attempts, w, ok, ceil)
			}
			top = max(top, w)
		}
		// Full jitter spreads over the whole range: the chance that 2000
		// draws all miss its upper half is 2^-2000.
		if top <= ceil/2 {
			t.Fatalf("attempt %d: largest of 2000 waits %v, want above %v", attempts, top, ceil/2)
		}
	}
	// A huge attempt count neither overflows nor exceeds the cap.
	for _, n := range []int{62, 63, 64, 1000, 1 << 30} {
		if w, ok := r.NextBackoff(n, 0); !ok || w < 0 || w > 50*ms {
			t.Fatalf("attempt %d: %v, %v", n, w, ok)
		}
	}
	// maxWait: the last wait ends at maxWait at the latest, then it stops.
	for s := 0; s < 200; s++ {
		if w, ok := r.NextBackoff(10, time.Minute-3*ms); !ok || w > 3*ms {
			t.Fatalf("near maxWait: %v, %v; want at most the 3ms left", w, ok)
		}
	}
	if _, ok := r.NextBackoff(10, time.Minute); ok {
		t.Fatal("retried at maxWait")
	}
	// Arguments out of range are brought into it.
	if w, ok := lock.ExponentialRetry(0, 0, time.Second).NextBackoff(5, 0); !ok || w > ms {
		t.Fatalf("ExponentialRetry(0, 0): %v, %v; want at most the 1ms floor", w, ok)
	}
	if _, ok := lock.ExponentialRetry(ms, ms, -time.Second).NextBackoff(1, 0); ok {
		t.Fatal("negative maxWait retried")
	}
}

// One strategy value serves concurrent Obtain calls (run under -race).
func TestRetryStrategiesAreConcurrencySafe(t *testing.T) {
	strategies := []lock.RetryStrategy{lock.NoRetry(), lock.LinearRetry(time.Millisecond, time.Second),
		lock.ExponentialRetry(time.Millisecond, 10*time.Millisecond, time.Second)}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for n := 1; n <= 500; n++ {
				for _, s := range strategies {
					s.NextBackoff(n, time.Duration(n)*time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}
