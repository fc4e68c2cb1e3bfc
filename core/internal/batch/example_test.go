package batch_test

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/batch"
)

// printer is a Sender that says how each command goes out.
type printer struct{}

func (printer) Send(ctx context.Context, cmd redis.Cmder) error {
	fmt.Println("alone:", cmd.Args())
	return nil
}

func (printer) Pipeline(ctx context.Context, cmds []redis.Cmder) error {
	fmt.Println("a pipeline of", len(cmds))
	return nil
}

func ExampleBatcher_Send() {
	var b batch.Batcher // one per client and kind of call, shared by all requests
	ctx := context.Background()
	// One call at a time never waits: it goes on its own.
	for _, key := range []string{"a", "b"} {
		_ = b.Send(ctx, redis.NewStringCmd(ctx, "get", key), 0, printer{})
	}
	// Output:
	// alone: [get a]
	// alone: [get b]
}
