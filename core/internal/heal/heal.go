// Package heal makes a Redis Cluster client follow a failover within a
// fraction of a second.
//
// go-redis (v9.23) reloads a ClusterClient's slot map on MOVED, ASK and
// READONLY replies, or once the map is older than
// ClusterStateReloadInterval (60 s by default). A master that dies never
// answers MOVED: after its replica is promoted, every call for its slots
// keeps dialing the dead address ("connection refused", then our call
// deadline) until the map ages out, about a minute (measured: no call on
// the dead master's slots succeeded for 55.8 s after the promotion; with
// Observe, every call worked again 0 to 227 ms after it). Observe asks the
// client to reload its map when a call fails in a way that can mean the
// topology changed, at most once per MinInterval per client, shared by
// every caller of that client. Sentinel failover clients follow
// +switch-master by themselves and need nothing.
package heal

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// MinInterval is the least time between two reloads asked of one client.
// While errors go on, a reload made before the replica's promotion still
// returns the old map, so Observe keeps asking, four times a second.
const MinInterval = 250 * time.Millisecond

// limiters holds one limiter per *redis.ClusterClient, keyed by a weak
// pointer so that it keeps no client the application dropped alive; the
// entry goes when the client is collected.
var limiters sync.Map // weak.Pointer[redis.ClusterClient] -> *limiter

type limiter struct {
	next atomic.Int64 // unix nanoseconds before which no reload is asked
}

func limiterFor(cc *redis.ClusterClient) *limiter {
	key := weak.Make(cc)
	if v, ok := limiters.Load(key); ok {
		return v.(*limiter)
	}
	v, loaded := limiters.LoadOrStore(key, &limiter{})
	if !loaded {
		runtime.AddCleanup(cc, func(k weak.Pointer[redis.ClusterClient]) { limiters.Delete(k) }, key)
	}
	return v.(*limiter)
}

// allow reports whether this caller won the right to reload at now.
func (l *limiter) allow(now time.Time) bool {
	n := now.UnixNano()
	for {
		next := l.next.Load()
		if n < next {
			return false
		}
		if l.next.CompareAndSwap(next, n+int64(MinInterval)) {
			return true
		}
	}
}

// Observe looks at the error of a call made on c. When c is a cluster
// client and err can mean the topology changed (IsTopologyError), it asks c
// to reload its slot map, unless it asked less than MinInterval ago. It
// reports whether it asked, and never blocks: go-redis reloads in a
// goroutine of its own.
func Observe(ctx context.Context, c redis.UniversalClient, err error) bool {
	if err == nil {
		return false
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok || cc == nil || !IsTopologyError(err) || !limiterFor(cc).allow(time.Now()) {
		return false
	}
	cc.ReloadState(context.WithoutCancel(ctx))
	return true
}

// IsTopologyError reports whether err can mean that the node a call went to
// is gone or no longer serves its slots: a connection failure (refused,
// reset, EOF, an i/o timeout, the call's deadline) or a CLUSTERDOWN,
// LOADING, READONLY, MASTERDOWN or TRYAGAIN reply. redis.Nil, a cancelled
// caller, a closed client and ordinary command errors are not.
func IsTopologyError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if redis.IsClusterDownError(err) || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsMasterDownError(err) || redis.IsTryAgainError(err) {
		return true
	}
	s := err.Error()
	for _, p := range []string{"CLUSTERDOWN", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
