package redistest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

// counterTest is what a test looks like with redistest: in your own code it
// is the body of func TestCounter(t *testing.T).
func counterTest(t testing.TB) {
	srv := redistest.New(t) // miniredis, or the Redis or Cluster the environment names
	ctx := t.Context()

	// Two clients stand for two instances of an app sharing one Redis.
	app1, app2 := srv.Client(), srv.Client()
	key := srv.Key("hits") // under this test's own prefix, deleted when it ends

	if err := app1.Incr(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	hits, err := app2.Incr(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := app1.Expire(ctx, key, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("hits:", hits)
	fmt.Println("key under prefix:", strings.HasPrefix(key, srv.Prefix))
}

func Example() {
	// An Example has no *testing.T, so this one borrows the testing.TB of
	// testing.Benchmark to run counterTest once (SkipNow stops the benchmark
	// before it repeats). In a test, pass your *testing.T to redistest.New.
	testing.Benchmark(func(b *testing.B) {
		counterTest(b)
		b.SkipNow()
	})
	// Output:
	// hits: 2
	// key under prefix: true
}
