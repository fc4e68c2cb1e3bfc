package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/problem"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// DenyList revokes stateless tokens (a JWT's "jti", say) before they
// expire: an entry lives exactly as long as the token it revokes, so the
// list never outgrows the tokens still valid. Safe for concurrent use.
type DenyList struct {
	client redis.UniversalClient
	call   rediscall.Caller
	space  keys.Space
	logger *slog.Logger
	revoke *telemetry.RedisOp
	check  *telemetry.RedisOp
}

// DenyListOptions configures a DenyList; every field is optional.
type DenyListOptions struct {
	// Prefix starts every Redis key. Zero means "redisware:".
	Prefix string
	// Timeout bounds each Redis call. Zero means 100ms.
	Timeout time.Duration
	// Logger receives warnings for Redis failures. Zero means
	// slog.Default().
	Logger *slog.Logger
	// MeterProvider receives redisware.redis.duration for the list's
	// calls. Zero means the global provider.
	MeterProvider metric.MeterProvider
}

// NewDenyList returns a DenyList on client.
func NewDenyList(client redis.UniversalClient, opts DenyListOptions) (*DenyList, error) {
	if client == nil {
		return nil, errors.New("session: nil Redis client")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := telemetry.New("session", opts.MeterProvider, nil)
	return &DenyList{client: client, call: rediscall.New(client, opts.Timeout),
		space: keys.NewSpace(opts.Prefix, "deny", ""), logger: opts.Logger,
		revoke: t.RedisOp("token_revoke"), check: t.RedisOp("token_check")}, nil
}

// key hashes the token ID: the list holds no token material.
func (d *DenyList) key(tokenID string) string { return d.space.Tagged(keys.Hash(tokenID), "") }

// Revoke denies tokenID until expires, the token's own expiry. A token that
// has already expired needs no entry.
func (d *DenyList) Revoke(ctx context.Context, tokenID string, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl <= 0 {
		return nil
	}
	err := d.call.DoMeasured(ctx, d.revoke, func(ctx context.Context) error {
		return d.client.Set(ctx, d.key(tokenID), "1", ttl.Round(time.Millisecond)+time.Millisecond).Err()
	})
	if err != nil {
		return d.fail(ctx, err)
	}
	return nil
}

// Revoked reports whether tokenID is denied, in one round trip.
func (d *DenyList) Revoked(ctx context.Context, tokenID string) (bool, error) {
	var n int64
	err := d.call.DoMeasured(ctx, d.check, func(ctx context.Context) error {
		var err error
		n, err = d.client.Exists(ctx, d.key(tokenID)).Result()
		return err
	})
	if err != nil {
		return false, d.fail(ctx, err)
	}
	return n == 1, nil
}

func (d *DenyList) fail(ctx context.Context, err error) error {
	err = fmt.Errorf("%w: deny list: %w", ErrUnavailable, err)
	d.logger.LogAttrs(ctx, slog.LevelWarn, "session: redis call failed", slog.Any("error", err))
	return err
}

// TokenGuard rejects requests whose bearer token is on a DenyList. Parsing
// and verifying the token is the caller's: Parse returns its ID, or an
// error for a missing or invalid token.
type TokenGuard struct {
	// Deny is the list to check.
	Deny *DenyList
	// Parse returns the ID ("jti") of the request's token; an error means
	// the request carries no valid token and is answered 401.
	Parse func(r *http.Request) (tokenID string, err error)
}

// Check returns nil when r may proceed, else the status (401 for a
// missing, invalid or revoked token; 503 when the list cannot be read) and
// the problem body to answer with.
func (g *TokenGuard) Check(r *http.Request) (status int, body []byte) {
	id, err := g.Parse(r)
	if err != nil {
		return http.StatusUnauthorized, problem.New(http.StatusUnauthorized, "A valid bearer token is required.").Body()
	}
	revoked, err := g.Deny.Revoked(r.Context(), id)
	switch {
	case err != nil:
		return http.StatusServiceUnavailable, problem.New(http.StatusServiceUnavailable, "Token revocations cannot be checked; try again shortly.").Body()
	case revoked:
		return http.StatusUnauthorized, problem.New(http.StatusUnauthorized, "This token has been revoked.").Body()
	}
	return 0, nil
}

// ServeHTTP runs next unless Check rejects r, in which case it writes the
// rejection (with WWW-Authenticate: Bearer on 401).
func (g *TokenGuard) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	status, body := g.Check(r)
	if status == 0 {
		next.ServeHTTP(w, r)
		return
	}
	WriteRejection(w, status, body)
}

// WriteRejection writes a TokenGuard rejection: the problem body, and
// WWW-Authenticate: Bearer on 401.
func WriteRejection(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	h.Set("Content-Type", problem.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
