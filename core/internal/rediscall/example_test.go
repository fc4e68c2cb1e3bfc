package rediscall_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/rediscall"
)

func ExampleCaller_Do() {
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String()}) // go-redis defaults: 3 s reads
	defer rdb.Close()

	call := rediscall.New(rdb, 50*time.Millisecond)
	err = call.Do(context.Background(), func(ctx context.Context) error {
		return rdb.Ping(ctx).Err()
	})
	fmt.Println(errors.Is(err, rediscall.ErrTimeout))
	// Output: true
}
