package heal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestIsTopologyError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{redis.ErrClosed, false},
		{context.Canceled, false},
		{errors.New("ERR wrong number of arguments"), false},
		{errors.New("NOSCRIPT No matching script"), false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), true},
		{io.EOF, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{syscall.ECONNRESET, true},
		{errors.New("CLUSTERDOWN The cluster is down"), true},
		{errors.New("LOADING Redis is loading the dataset in memory"), true},
		{errors.New("READONLY You can't write against a read only replica."), true},
		{errors.New("MASTERDOWN Link with MASTER is down"), true},
		{errors.New("TRYAGAIN Multiple keys request during rehashing of slot"), true},
	} {
		if got := IsTopologyError(tc.err); got != tc.want {
			t.Errorf("IsTopologyError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Of many callers failing at once, exactly one asks for a reload per
// interval.
func TestLimiterOneWinner(t *testing.T) {
	var l limiter
	now := time.Now()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.allow(now) {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers won; want 1", wins.Load())
	}
	if l.allow(now.Add(MinInterval - time.Millisecond)) {
		t.Fatal("a second reload within MinInterval")
	}
	if !l.allow(now.Add(MinInterval)) {
		t.Fatal("no reload after MinInterval")
	}
}

func TestObserve(t *testing.T) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()
	ctx := context.Background()
	if Observe(ctx, single, context.DeadlineExceeded) {
		t.Fatal("asked a single-node client to reload")
	}
	if Observe(ctx, cc, redis.Nil) {
		t.Fatal("asked for a reload on redis.Nil")
	}
	if !Observe(ctx, cc, context.DeadlineExceeded) {
		t.Fatal("no reload asked on a deadline")
	}
	if Observe(ctx, cc, context.DeadlineExceeded) {
		t.Fatal("a second reload within MinInterval")
	}
	other := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer other.Close()
	if !Observe(ctx, other, io.EOF) {
		t.Fatal("clients share one limiter")
	}
}
