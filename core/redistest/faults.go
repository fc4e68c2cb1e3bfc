package redistest

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Faults breaks the connections of the clients built with
// Server.FaultyClient the way a network does, to show what code does when
// the reply of a Lua script is lost after the server ran it: go-redis then
// sees a connection error and, unless the command is NoRetry, sends it
// again (MaxRetries, 3 by default), and the script runs twice. The zero
// value injects nothing; it is safe for concurrent use.
type Faults struct {
	drops atomic.Int64 // script calls whose reply is still to be dropped
	sent  atomic.Int64 // script calls written
	stall atomic.Bool  // no reply to a script call is passed on
}

// DropScriptReplies makes the next n script calls (EVAL or EVALSHA, alone
// or in a pipeline) lose their reply: the connection that wrote one waits
// until the reply starts to arrive, so the script has run, and then drops
// without passing the reply on.
func (f *Faults) DropScriptReplies(n int) { f.drops.Store(int64(n)) }

// StallScriptReplies, while on, makes every script call written lose its
// reply without the connection failing: the connection passes nothing on
// until the test ends, as a server that stopped answering would, so that
// only the caller's own deadline can end the call.
func (f *Faults) StallScriptReplies(on bool) { f.stall.Store(on) }

// ScriptCalls returns how many script calls (EVAL or EVALSHA) the faulty
// clients have written since the last ResetScriptCalls.
func (f *Faults) ScriptCalls() int64 { return f.sent.Load() }

// ResetScriptCalls sets the count of ScriptCalls back to zero.
func (f *Faults) ResetScriptCalls() { f.sent.Store(0) }

// FaultyClient returns a client like Client's (same topology and options,
// go-redis's default MaxRetries) whose connections go through f, with a
// read timeout of a minute, so that only the code under test's own
// deadline can end a call. It is closed, with its connections, by the
// test's cleanup.
func (s *Server) FaultyClient(f *Faults) redis.UniversalClient {
	s.tb.Helper()
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wrap := func(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dial == nil {
			dial = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
		}
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			if closed {
				_ = c.Close()
				return nil, net.ErrClosed
			}
			conns = append(conns, c)
			return &faultyConn{Conn: c, f: f}, nil
		}
	}
	var c redis.UniversalClient
	switch b := s.Client().(type) { // kept open: a Sentinel Dialer uses it
	case *redis.ClusterClient:
		o := *b.Options() // a copy: b keeps its own dialer
		opt := &o
		opt.Dialer, opt.ReadTimeout = wrap(opt.Dialer), time.Minute
		c = redis.NewClusterClient(opt)
	case *redis.Client:
		// A Sentinel failover client too: its Options().Addr is no
		// address, but its Dialer finds the master.
		o := *b.Options()
		opt := &o
		opt.Dialer, opt.ReadTimeout = wrap(opt.Dialer), time.Minute
		// b's push-notification processor has b's handlers registered:
		// shared, the new client's registration fails (and logs it).
		opt.PushNotificationProcessor = nil
		c = redis.NewClient(opt)
	default:
		s.tb.Fatalf("redistest: FaultyClient: unexpected client %T", b)
	}
	s.tb.Cleanup(func() {
		mu.Lock()
		closed = true
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		_ = c.Close()
	})
	return c
}

// faultyConn is a connection of a faulty client.
type faultyConn struct {
	net.Conn
	f     *Faults
	armed atomic.Bool // the reply of a script call written on it is to be dropped
}

var (
	evalshaArg = []byte("\r\nevalsha\r\n")
	evalArg    = []byte("\r\neval\r\n")
)

func (c *faultyConn) Write(p []byte) (int, error) {
	low := bytes.ToLower(p)
	if n := int64(bytes.Count(low, evalshaArg) + bytes.Count(low, evalArg)); n > 0 {
		c.f.sent.Add(n)
		if c.f.stall.Load() || c.f.drops.Add(-1) >= 0 {
			c.armed.Store(true)
		}
	}
	return c.Conn.Write(p)
}

func (c *faultyConn) Read(p []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Read(p)
	}
	if c.f.stall.Load() {
		_, _ = io.Copy(io.Discard, c.Conn) // until the test's cleanup closes it
		return 0, io.EOF
	}
	// The reply has started: the script ran. Drop it, and the connection.
	var b [1]byte
	_, _ = io.ReadAtLeast(c.Conn, b[:], 1)
	_ = c.Conn.Close()
	return 0, io.ErrUnexpectedEOF
}

// AutoPipeliner faces, for AutoPipeline.
const (
	// Blocking is the face rdb.AutoPipeline() returns: each command waits
	// for its batch.
	Blocking = "blocking"
	// Deferred is the face rdb.AsyncAutoPipeline() returns: a command's
	// reply is waited for when it is read.
	Deferred = "deferred"
)

// AutoPipeline returns c's AutoPipeliner of the given face (Blocking or
// Deferred), failing tb if it cannot be had: code that must work on an
// AutoPipeliner is tested on both faces. go-redis closes it with c.
func AutoPipeline(tb testing.TB, c redis.UniversalClient, face string) *redis.AutoPipeliner {
	tb.Helper()
	var (
		ap  *redis.AutoPipeliner
		err error
	)
	switch face {
	case Blocking:
		ap, err = c.AutoPipeline()
	case Deferred:
		ap, err = c.AsyncAutoPipeline()
	default:
		tb.Fatalf("redistest: AutoPipeline: unknown face %q (want %q or %q)", face, Blocking, Deferred)
	}
	if err != nil {
		tb.Fatalf("redistest: AutoPipeline(%s): %v", face, err)
	}
	return ap
}
