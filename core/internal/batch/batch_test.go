package batch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/batch/batchtest"
)

// fake answers each GET with "v:" and its key, counting what it sent on
// its own and in pipelines, and the most calls it had out at once.
type fake struct {
	hold      chan struct{} // when not nil, Send waits for it to close
	pipeErr   error         // what Pipeline returns
	out, most atomic.Int64
	alone     atomic.Int64
	sending   atomic.Int64 // calls inside Send now
	mu        sync.Mutex
	pipelines []pipeline
}

type pipeline struct {
	n        int
	deadline time.Time
	hasDL    bool
	err      error // the context's error when Pipeline was called
}

func (f *fake) begin() {
	n := f.out.Add(1)
	for {
		m := f.most.Load()
		if n <= m || f.most.CompareAndSwap(m, n) {
			return
		}
	}
}

func answer(cmd redis.Cmder) {
	c := cmd.(*redis.StringCmd)
	c.SetVal("v:" + c.Args()[1].(string))
}

func (f *fake) Send(ctx context.Context, cmd redis.Cmder) error {
	f.begin()
	defer f.out.Add(-1)
	f.alone.Add(1)
	f.sending.Add(1)
	defer f.sending.Add(-1)
	if f.hold != nil {
		<-f.hold
	}
	answer(cmd)
	return nil
}

func (f *fake) Pipeline(ctx context.Context, cmds []redis.Cmder) error {
	f.begin()
	defer f.out.Add(-1)
	d, ok := ctx.Deadline()
	f.mu.Lock()
	f.pipelines = append(f.pipelines, pipeline{n: len(cmds), deadline: d, hasDL: ok, err: ctx.Err()})
	f.mu.Unlock()
	for _, c := range cmds {
		answer(c)
	}
	return f.pipeErr
}

func get(ctx context.Context, key string) *redis.StringCmd {
	return redis.NewStringCmd(ctx, "get", key)
}

// Calls made one after another never wait and never batch.
func TestAloneWhileSlotsFree(t *testing.T) {
	var b batch.Batcher
	f := &fake{}
	for i := range 10 {
		cmd := get(t.Context(), fmt.Sprint("k", i))
		if err := b.Send(t.Context(), cmd, 0, f); err != nil || cmd.Val() != fmt.Sprint("v:k", i) {
			t.Fatalf("call %d: %q, %v", i, cmd.Val(), err)
		}
	}
	if f.alone.Load() != 10 || len(f.pipelines) != 0 {
		t.Fatalf("%d sent alone, %d pipelines; want 10 alone", f.alone.Load(), len(f.pipelines))
	}
}

// sendAsync sends n calls from goroutines of their own, keys named
// prefix0..prefix(n-1), with each ctx and timeout from opt, and returns a
// function that waits for them and fails t on a wrong answer.
func sendAsync(t *testing.T, b *batch.Batcher, f *fake, prefix string, n int, opt func(i int) (context.Context, time.Duration)) (wait func() []error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, timeout := t.Context(), time.Duration(0)
			if opt != nil {
				ctx, timeout = opt(i)
			}
			key := fmt.Sprint(prefix, i)
			cmd := get(ctx, key)
			errs[i] = b.Send(ctx, cmd, timeout, f)
			if errs[i] == nil && cmd.Val() != "v:"+key {
				t.Errorf("%s answered %q", key, cmd.Val())
			}
		})
	}
	return func() []error { wg.Wait(); return errs }
}

// While Slots calls are out, the next ones wait and go out together, in
// pipelines of at most MaxBatch as slots free, each with its own answer.
func TestBatchWhileSlotsOut(t *testing.T) {
	var b batch.Batcher
	f := &fake{hold: make(chan struct{})}
	first := sendAsync(t, &b, f, "a", batch.Slots, nil)
	batchtest.WaitFor(t, "the slots taken", func() bool { return f.sending.Load() == batch.Slots })
	rest := sendAsync(t, &b, f, "b", 50, nil)
	batchtest.WaitFor(t, "50 calls in the next batch", func() bool { return b.Waiting() == 50 })
	close(f.hold)
	for _, errs := range [][]error{first(), rest()} {
		for i, err := range errs {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	}
	want := (50 + batch.MaxBatch - 1) / batch.MaxBatch
	piped := 0
	for _, p := range f.pipelines {
		if p.n > batch.MaxBatch {
			t.Errorf("a pipeline of %d calls, more than MaxBatch (%d)", p.n, batch.MaxBatch)
		}
		piped += p.n
	}
	if f.alone.Load() != batch.Slots || len(f.pipelines) != want || piped != 50 {
		t.Fatalf("%d alone, pipelines %+v; want %d alone and %d pipelines of 50 calls in all", f.alone.Load(), f.pipelines, batch.Slots, want)
	}
	if f.most.Load() > batch.Slots {
		t.Fatalf("%d calls out at once, more than the %d slots", f.most.Load(), batch.Slots)
	}
}

// until returns a context that ends at d, or with the test.
func until(t *testing.T, d time.Time) context.Context {
	ctx, cancel := context.WithDeadline(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// A batch goes out with the earliest of its members' deadlines (a
// context's, or the timeout from when it joined), and not cancelled with
// the member that sends it.
func TestBatchDeadlineIsEarliest(t *testing.T) {
	var b batch.Batcher
	f := &fake{hold: make(chan struct{})}
	first := sendAsync(t, &b, f, "a", batch.Slots, nil)
	batchtest.WaitFor(t, "the slots taken", func() bool { return f.sending.Load() == batch.Slots })
	base := time.Now().Add(time.Hour)
	earliest := base.Add(-30 * time.Minute)
	// The first to join leads the batch; it is cancelled before the batch goes.
	leadCtx, cancelLead := context.WithCancel(t.Context())
	lead := sendAsync(t, &b, f, "lead", 1, func(int) (context.Context, time.Duration) { return leadCtx, 0 })
	batchtest.WaitFor(t, "the lead in the next batch", func() bool { return b.Waiting() == 1 })
	rest := sendAsync(t, &b, f, "b", 3, func(i int) (context.Context, time.Duration) {
		switch i {
		case 0:
			return until(t, base), 0
		case 1: // a timeout earlier than its context's deadline
			return until(t, base), time.Until(earliest)
		default: // a timeout later than its context's deadline
			return until(t, base.Add(time.Minute)), 2 * time.Hour
		}
	})
	batchtest.WaitFor(t, "4 calls in the next batch", func() bool { return b.Waiting() == 4 })
	cancelLead()
	close(f.hold)
	first()
	lead()
	rest()
	if len(f.pipelines) != 1 {
		t.Fatalf("pipelines %+v, want one", f.pipelines)
	}
	p := f.pipelines[0]
	if !p.hasDL || p.deadline.Sub(earliest).Abs() > time.Second {
		t.Fatalf("the batch's deadline is %v (set: %v), want about %v", p.deadline, p.hasDL, earliest)
	}
	if p.err != nil {
		t.Fatalf("the batch went out with its context ended (%v): the lead's cancellation reached it", p.err)
	}
}

// A batch of members without a deadline goes out without one.
func TestBatchWithoutDeadline(t *testing.T) {
	var b batch.Batcher
	f := &fake{hold: make(chan struct{})}
	first := sendAsync(t, &b, f, "a", batch.Slots, nil)
	batchtest.WaitFor(t, "the slots taken", func() bool { return f.sending.Load() == batch.Slots })
	rest := sendAsync(t, &b, f, "b", 3, func(int) (context.Context, time.Duration) { return context.Background(), 0 })
	batchtest.WaitFor(t, "3 calls in the next batch", func() bool { return b.Waiting() == 3 })
	close(f.hold)
	first()
	rest()
	if len(f.pipelines) != 1 || f.pipelines[0].hasDL {
		t.Fatalf("pipelines %+v, want one without a deadline", f.pipelines)
	}
}

// An error of the pipeline is every member's; the calls out alone keep
// their own answers.
func TestPipelineErrorIsEveryMembers(t *testing.T) {
	var b batch.Batcher
	boom := errors.New("abandoned")
	f := &fake{hold: make(chan struct{}), pipeErr: boom}
	first := sendAsync(t, &b, f, "a", batch.Slots, nil)
	batchtest.WaitFor(t, "the slots taken", func() bool { return f.sending.Load() == batch.Slots })
	rest := sendAsync(t, &b, f, "b", 7, nil)
	batchtest.WaitFor(t, "7 calls in the next batch", func() bool { return b.Waiting() == 7 })
	close(f.hold)
	for i, err := range first() {
		if err != nil {
			t.Errorf("alone %d: %v", i, err)
		}
	}
	for i, err := range rest() {
		if !errors.Is(err, boom) {
			t.Errorf("member %d: %v, want the pipeline's error", i, err)
		}
	}
}

// Under contention every call is sent exactly once, alone or in a batch,
// each gets its own answer, and never more than Slots are out at once.
func TestConcurrentCallsSentOnce(t *testing.T) {
	var b batch.Batcher
	f := &fake{}
	const goroutines, each = 64, 200
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprint(g, "-", i)
				cmd := get(t.Context(), key)
				if err := b.Send(t.Context(), cmd, time.Second, f); err != nil || cmd.Val() != "v:"+key {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	piped := 0
	for _, p := range f.pipelines {
		piped += p.n
	}
	if wrong.Load() != 0 {
		t.Fatalf("%d wrong answers", wrong.Load())
	}
	if got := int(f.alone.Load()) + piped; got != goroutines*each {
		t.Fatalf("%d calls sent (%d alone, %d in %d pipelines), want %d", got, f.alone.Load(), piped, len(f.pipelines), goroutines*each)
	}
	if f.most.Load() > batch.Slots {
		t.Fatalf("%d calls out at once, more than the %d slots", f.most.Load(), batch.Slots)
	}
	for _, p := range f.pipelines {
		if p.n > batch.MaxBatch {
			t.Fatalf("a pipeline of %d calls, more than MaxBatch (%d)", p.n, batch.MaxBatch)
		}
	}
	if b.Waiting() != 0 {
		t.Fatalf("%d calls left waiting", b.Waiting())
	}
}
