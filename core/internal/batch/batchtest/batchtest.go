// Package batchtest holds single Redis commands back, so that tests of
// the cores can make calls join a batch (package batch) at will, and
// counts the pipelines that carry them.
package batchtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/batch"
)

// ErrFailed is the error of a command Gate.FailOne failed: it was never
// sent.
var ErrFailed = errors.New("batchtest: failed by the gate, never sent")

// Gate is a go-redis hook. While closed it holds every single command (not
// pipelines, nor a new connection's set-up) before it is written, until Open, until FailOne fails it, or
// until its context ends; it counts the pipelines and their commands (but
// those that set up a new connection). Add it with AddHook.
type Gate struct {
	closed    atomic.Bool
	open      chan struct{}
	fail      chan struct{}
	held      atomic.Int64
	pipelines atomic.Int64
	piped     atomic.Int64
}

// New returns a closed Gate.
func New() *Gate {
	g := &Gate{open: make(chan struct{}), fail: make(chan struct{})}
	g.closed.Store(true)
	return g
}

// Open lets the commands held, and all after them, through.
func (g *Gate) Open() {
	if g.closed.CompareAndSwap(true, false) {
		close(g.open)
	}
}

// FailOne makes one command held fail with ErrFailed, unsent, and waits
// until one has, failing t if none has within 10 seconds.
func (g *Gate) FailOne(t testing.TB) {
	t.Helper()
	select {
	case g.fail <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("batchtest: no command held to fail")
	}
}

// Held returns how many commands the gate has held so far.
func (g *Gate) Held() int64 { return g.held.Load() }

// Pipelines returns how many pipelines went through, and how many
// commands they carried in all.
func (g *Gate) Pipelines() (pipelines, commands int64) {
	return g.pipelines.Load(), g.piped.Load()
}

// DialHook is go-redis's.
func (g *Gate) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook holds a single command while the gate is closed.
func (g *Gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.closed.Load() && !setUp(cmd) {
			g.held.Add(1)
			select {
			case <-g.open:
			case <-g.fail:
				cmd.SetErr(ErrFailed)
				return ErrFailed
			case <-ctx.Done():
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline.
func (g *Gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !setUp(cmds[0]) {
			g.pipelines.Add(1)
			g.piped.Add(int64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

// CheckBatches fails t unless the pipelines that went through carried n
// commands in all, in one pipeline per batch.MaxBatch of them; on a
// Cluster client (rdb) a batch is one pipeline per node it reaches, so
// only the commands are counted there.
func (g *Gate) CheckBatches(t testing.TB, rdb redis.UniversalClient, n int) {
	t.Helper()
	pipelines, piped := g.Pipelines()
	want := int64((n + batch.MaxBatch - 1) / batch.MaxBatch)
	if _, ok := rdb.(*redis.ClusterClient); ok {
		want = pipelines
	}
	if pipelines != want || piped != int64(n) {
		t.Fatalf("%d pipelines of %d commands in all, want %d of %d", pipelines, piped, want, n)
	}
}

// setUp reports whether cmd sets up a new connection (which go-redis
// sends through the client's hooks): it is neither held nor counted.
func setUp(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "readonly":
		return true
	}
	return false
}

// WaitFor polls cond until it holds, failing t after 10 seconds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
