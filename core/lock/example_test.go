package lock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/lock"
)

// startMiniredis starts an embedded Redis for an example; a real program
// passes its own client.
func startMiniredis() (*miniredis.Miniredis, redis.UniversalClient) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	return mr, redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
}

func ExampleClient_Obtain() {
	mr, rdb := startMiniredis()
	defer mr.Close()
	defer rdb.Close()

	locker, err := lock.New(rdb, lock.Options{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	l, err := locker.Obtain(ctx, "invoice:42", 10*time.Second, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("obtained", l.Key())

	_, err = locker.Obtain(ctx, "invoice:42", 10*time.Second, nil)
	fmt.Println("second try:", err)

	if err := l.Release(ctx); err != nil {
		panic(err)
	}
	fmt.Println("release again:", l.Release(ctx))
	// Output:
	// obtained invoice:42
	// second try: lock: not obtained
	// release again: lock: not held
}

func ExampleClient_Do() {
	mr, rdb := startMiniredis()
	defer mr.Close()
	defer rdb.Close()

	// The deployment's shared settings: a failed release at the end of Do
	// is logged and passed to OnError (the lock expires by itself).
	shared := core.Settings{Prefix: "billing:", OnError: func(ctx context.Context, err error) { /* report err */ }}
	locker, err := lock.New(rdb, lock.Options{Settings: shared})
	if err != nil {
		panic(err)
	}
	// Wait up to 5 seconds in all for the lock, with jittered backoff.
	wait := &lock.ObtainOptions{Retry: lock.ExponentialRetry(10*time.Millisecond, time.Second, 5*time.Second)}
	err = locker.Do(context.Background(), "nightly-report", time.Minute, wait, func(ctx context.Context) error {
		// The lock is refreshed while this runs; ctx ends if it is lost.
		fmt.Println("rendering the report")
		return nil
	})
	if errors.Is(err, lock.ErrNotObtained) {
		fmt.Println("another server is rendering it")
		return
	}
	fmt.Println("done:", err)
	// Output:
	// rendering the report
	// done: <nil>
}

// fencedStore is the resource a lock protects when correctness matters: it
// remembers the largest fencing token it has accepted and refuses writes
// that carry a smaller one.
type fencedStore struct {
	mu    sync.Mutex
	fence int64
	value string
}

func (s *fencedStore) Write(fence int64, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence < s.fence {
		return fmt.Errorf("stale fencing token")
	}
	s.fence, s.value = fence, value
	return nil
}

// Martin Kleppmann's scenario: client 1's lock expires while it is paused
// (a GC pause, here simulated by moving Redis's clock); client 2 takes the
// lock and writes; client 1 wakes and writes too. The store refuses client
// 1's write, because its fencing token is older.
func Example_fencing() {
	mr, rdb := startMiniredis()
	defer mr.Close()
	defer rdb.Close()
	locker, err := lock.New(rdb, lock.Options{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	store := &fencedStore{}

	client1, err := locker.Obtain(ctx, "account:7", time.Second, nil)
	if err != nil {
		panic(err)
	}
	mr.FastForward(2 * time.Second) // client 1 is paused past its TTL

	client2, err := locker.Obtain(ctx, "account:7", time.Second, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("client 2 writes:", store.Write(client2.Fence(), "from client 2"))
	fmt.Println("client 1 writes:", store.Write(client1.Fence(), "from client 1"))
	fmt.Println("client 1 releases:", client1.Release(ctx))
	fmt.Println("store holds:", store.value)
	// Output:
	// client 2 writes: <nil>
	// client 1 writes: stale fencing token
	// client 1 releases: lock: not held
	// store holds: from client 2
}

func ExampleRedlock_Obtain() {
	// Three independent Redis masters; one of them is down.
	var clients []redis.UniversalClient
	for i := 0; i < 3; i++ {
		mr, rdb := startMiniredis()
		defer mr.Close()
		defer rdb.Close()
		if i == 2 {
			mr.Close()
		}
		clients = append(clients, rdb)
	}
	rl, err := lock.NewRedlock(clients, lock.Options{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	l, err := rl.Obtain(ctx, "invoice:42", 10*time.Second, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("obtained on a quorum of 2 out of 3")
	fmt.Println("release:", l.Release(ctx))
	// Output:
	// obtained on a quorum of 2 out of 3
	// release: <nil>
}
