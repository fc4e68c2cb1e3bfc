// Package core holds what every redisware core shares: the deployment-wide
// Settings each core's Options embeds, the one shape of a Rejection, and the
// Middleware interface that every framework adapter mounts.
//
// Every core is built the same way, validated once, up front:
//
//	shared := core.Settings{Prefix: "shop:", Logger: logger, TrustedProxies: []string{"10.0.0.0/8"}}
//	limiter, err := ratelimit.New(rdb, ratelimit.Options{Settings: shared, Name: "api", Limits: ...})
//	cache, err := httpcache.New(rdb, httpcache.Options{Settings: shared})
//	sessions, err := session.New(rdb, session.Options{Settings: shared})
//	guard, err := idempotency.New(rdb, idempotency.Options{Settings: shared})
//	locker, err := lock.New(rdb, lock.Options{Settings: shared})
//
// A misconfigured field makes New fail with an error that names it; nothing
// is checked later, at request time.
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultPrefix starts every Redis key when Settings.Prefix is zero.
const DefaultPrefix = "redisware:"

// DefaultTimeout bounds each Redis call when Settings.Timeout is zero: long
// enough for a loaded server on the same network, short enough that no
// request notices a dead one for long.
const DefaultTimeout = 100 * time.Millisecond

// MinSecretBytes is the shortest Settings.Secret accepted.
const MinSecretBytes = 32

// Settings are what every core repeats: build one value for the deployment
// and embed it in each core's Options (ratelimit.Options{Settings: shared}).
// The embedded fields are the core's own, so to change one for a single core,
// set it on that core's Options after copying the shared value in
// (opts.Timeout = 20 * time.Millisecond): the field set on the core's
// Options is the one that core uses. Every field is optional; each says its
// default.
type Settings struct {
	// Prefix starts every Redis key, so several applications can share
	// one Redis. It is used verbatim. Zero means DefaultPrefix,
	// "redisware:".
	Prefix string
	// Timeout bounds each Redis call a core makes. Zero means
	// DefaultTimeout (100ms); negative means no deadline of redisware's own
	// (the client's timeouts apply, seconds by default). When it passes,
	// the core applies its failure policy at once: rate limits fail open
	// (or closed), the cache serves from the handler, sessions and
	// idempotency answer 503.
	Timeout time.Duration
	// Logger receives a warning for every Redis failure. Zero means
	// slog.Default(). Client addresses, keys, session IDs and cookie
	// values never appear in its lines.
	Logger *slog.Logger
	// OnError, when set, is called with every Redis failure, after the
	// failure policy has been applied; use it to feed an error reporter.
	OnError func(ctx context.Context, err error)
	// MeterProvider receives the metrics of every core. Zero means the
	// global provider, a no-op until the application installs an SDK. The
	// no-op providers of go.opentelemetry.io/otel/metric/noop and
	// trace/noop, given together, switch instrumentation off.
	MeterProvider metric.MeterProvider
	// TracerProvider receives the spans of every core, each made only as a
	// child of the request's span. Zero means the global provider.
	TracerProvider trace.TracerProvider
	// TrustedProxies lists the proxies (CIDRs or bare addresses) in front
	// of this server whose forwarding headers (X-Forwarded-For, X-Real-IP,
	// X-Forwarded-Proto) are believed, by every core that reads a client's
	// address or scheme: the rate limiter's default key, the idempotency
	// scope, the address a session records, the scheme the cache keys on.
	// Zero, the default, trusts none: only the connection counts, so no
	// client can pick its own address by sending a header. Trust only your
	// own proxies: any client inside a listed range can claim to be anyone.
	TrustedProxies []string
	// Secret keys what redisware derives from client-visible values (such
	// as the user part of a session cookie), so a value seen in a log
	// cannot be matched to a user by guessing. Every instance of a fleet
	// must share it. When set it must hold at least MinSecretBytes bytes,
	// from a secret store, never from source code. Zero means a random
	// secret created once and kept in Redis (without a TTL, under Prefix),
	// so a bare machine and a fleet both work without configuration.
	Secret []byte
	// OnReject, when set, writes every rejection a core makes (429, 409,
	// 422, 503 and the others; see Rejection) in place of the default RFC
	// 9457 application/problem+json body. The rejection's Header fields
	// are already set on w. Zero means Rejection.Write.
	OnReject func(w http.ResponseWriter, r *http.Request, rej *Rejection)
}

// Validate reports the first field of s that cannot work, naming it.
// Every core's New calls it.
func (s Settings) Validate() error {
	if _, err := ParseTrustedProxies(s.TrustedProxies); err != nil {
		return err
	}
	if len(s.Secret) > 0 && len(s.Secret) < MinSecretBytes {
		return fmt.Errorf("%w: Settings.Secret has %d bytes; give at least %d random bytes", ErrConfig, len(s.Secret), MinSecretBytes)
	}
	return nil
}

// ParseTrustedProxies parses a TrustedProxies list: CIDRs ("10.0.0.0/8",
// "2001:db8::/32") and bare addresses ("10.0.0.1" is 10.0.0.1/32).
// Surrounding spaces are ignored and host bits cleared. An invalid entry is
// an error that names it.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, raw := range list {
		s := strings.TrimSpace(raw)
		var p netip.Prefix
		if strings.IndexByte(s, '/') >= 0 {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, fmt.Errorf("%w: Settings.TrustedProxies entry %q: %w", ErrConfig, raw, err)
			}
		} else {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%w: Settings.TrustedProxies entry %q: %w", ErrConfig, raw, err)
			}
			if addr.Zone() != "" {
				return nil, fmt.Errorf("%w: Settings.TrustedProxies entry %q: IPv6 zones are not allowed", ErrConfig, raw)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ErrConfig is wrapped by every error a core's New returns for options that
// cannot work.
var ErrConfig = errors.New("invalid configuration")
