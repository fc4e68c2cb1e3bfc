package redistest

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Hung returns a client on a server that accepts TCP connections and never
// answers: a loopback listener that reads whatever it is sent and writes
// nothing. The client has go-redis's default options (ContextTimeoutEnabled
// is false, default dial, read and write timeouts), so it shows whether the
// code under test bounds its Redis calls by itself. The client, the listener
// and its connections are closed by t.Cleanup.
func Hung(t testing.TB) redis.UniversalClient {
	t.Helper()
	c, _ := hung(t)
	return c
}

// hung is Hung that also returns a channel which receives a value each time
// the listener accepts a connection (values are dropped when nobody waits).
func hung(t testing.TB) (redis.UniversalClient, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: Hung: listen on loopback: %v", err)
	}
	accepted := make(chan struct{}, 1)
	var (
		mu     sync.Mutex
		closed bool
		conns  []net.Conn
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener was closed
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				_ = conn.Close()
				return
			}
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, conn) })
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	})
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
	t.Cleanup(func() {
		mu.Lock()
		closed = true
		for _, conn := range conns {
			_ = conn.Close()
		}
		mu.Unlock()
		_ = ln.Close()
		_ = c.Close()
		wg.Wait()
	})
	return c, accepted
}

// Refused returns a client on a loopback port where nothing listens, so
// every call fails with "connection refused". The client has go-redis's
// default options and is closed by t.Cleanup.
func Refused(t testing.TB) redis.UniversalClient {
	t.Helper()
	// Bind a free port and release it: nothing listens there afterwards,
	// short of another process binding the same port in the meantime.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: Refused: listen on loopback: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("redistest: Refused: close listener: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
