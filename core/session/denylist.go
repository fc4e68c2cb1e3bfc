package session

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/settings"
	"github.com/redisware/redisware/core/internal/telemetry"
)

//go:embed revoked.lua
var revokedLua string

// revokedScript checks an entry on the master, whatever replica reads the
// client makes.
var revokedScript = script.New(revokedLua)

// DenyList revokes stateless tokens (a JWT's "jti", say) before they
// expire: an entry lives exactly as long as the token it revokes, so the
// list never outgrows the tokens still valid. Build it with NewDenyList;
// it is safe for concurrent use.
type DenyList struct {
	set    *settings.Resolved
	space  keys.Space
	revoke *telemetry.RedisOp
	check  *telemetry.RedisOp
}

// DenyListOptions configures a DenyList. Every field is optional.
type DenyListOptions struct {
	// Settings are the deployment-wide settings (core.Settings): key
	// prefix, call timeout, logger, error hook, telemetry providers,
	// trusted proxies, secret and rejection writer. Copy the shared value
	// in; a field set here after that applies to this deny list only.
	//
	// The list's Redis calls use Prefix and Timeout, and report failures
	// to Logger and OnError; OnReject writes the rejections of the
	// TokenGuards built on the list.
	core.Settings
}

// NewDenyList returns a DenyList on client, or an error that names the
// first field of opts that cannot work (wrapping core.ErrConfig).
func NewDenyList(client redis.UniversalClient, opts DenyListOptions) (*DenyList, error) {
	set, err := settings.Resolve("session: deny list", client, opts.Settings)
	if err != nil {
		return nil, err
	}
	t := telemetry.New(component, set.MeterProvider, set.TracerProvider)
	set.WarnIfEvicting("token revocations (a revoked token is accepted again)")
	return &DenyList{set: set, space: keys.NewSpace(set.Prefix, "deny", ""),
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
	err := d.set.Call.DoMeasured(ctx, d.revoke, func(ctx context.Context) error {
		return d.set.Client.Set(ctx, d.key(tokenID), "1", ttl.Round(time.Millisecond)+time.Millisecond).Err()
	})
	if err != nil {
		return d.fail(ctx, err)
	}
	return nil
}

// Revoked reports whether tokenID is denied, in one round trip. It reads
// the master even when the client routes reads to replicas, so a
// revocation counts from the moment Revoke returned.
func (d *DenyList) Revoked(ctx context.Context, tokenID string) (bool, error) {
	var n int64
	err := d.set.Call.DoScriptMeasured(ctx, d.check, func(ctx context.Context) error {
		var err error
		n, err = revokedScript.Run(ctx, d.set.Client, []string{d.key(tokenID)}).Int64()
		return err
	})
	if err != nil {
		return false, d.fail(ctx, err)
	}
	return n == 1, nil
}

func (d *DenyList) fail(ctx context.Context, err error) error {
	err = fmt.Errorf("%w: deny list: %w", ErrUnavailable, err)
	d.set.Report(ctx, "session: redis call failed", err)
	return err
}

// TokenGuardOptions configures a TokenGuard.
type TokenGuardOptions struct {
	// Parse returns the ID ("jti") of the request's bearer token, once it
	// has verified the token (its signature, issuer, audience and expiry:
	// that is the caller's, the guard only checks the DenyList). An error
	// means the request carries no valid token, and is answered 401; it
	// is never shown to the client. Required.
	Parse func(r *http.Request) (tokenID string, err error)
}

// TokenGuard rejects requests whose bearer token is missing, invalid or on
// a DenyList. It is the core.Middleware that nethttp.TokenGuard,
// ginmw.TokenGuard and echomw.TokenGuard mount. Build it with
// NewTokenGuard; it is safe for concurrent use.
type TokenGuard struct {
	deny  *DenyList
	parse func(r *http.Request) (string, error)
}

var _ core.Middleware = (*TokenGuard)(nil)

// NewTokenGuard returns a TokenGuard that checks the tokens opts.Parse
// finds against deny, or an error naming the field that cannot work
// (wrapping core.ErrConfig). Its rejections are written through deny's
// Settings.OnReject.
func NewTokenGuard(deny *DenyList, opts TokenGuardOptions) (*TokenGuard, error) {
	const component = "session: token guard"
	if deny == nil {
		return nil, fmt.Errorf("%s: %w: nil DenyList", component, core.ErrConfig)
	}
	if opts.Parse == nil {
		return nil, settings.Invalid(component, "Parse", "is nil; give the function that verifies a request's token and returns its ID")
	}
	return &TokenGuard{deny: deny, parse: opts.Parse}, nil
}

// bearerChallenge is the WWW-Authenticate field of every 401 (RFC 6750).
const bearerChallenge = `Bearer error="invalid_token"`

// unauthorized is the 401 rejection, with the Bearer challenge.
func unauthorized(detail string, err error) *core.Rejection {
	h := make(http.Header, 1)
	h.Set("WWW-Authenticate", bearerChallenge)
	return &core.Rejection{Status: http.StatusUnauthorized, Detail: detail, Header: h, Err: err}
}

// Serve runs next unless r must be rejected, and then returns the
// rejection without writing anything: 401 (with WWW-Authenticate: Bearer
// error="invalid_token") when Parse finds no valid token (Err is Parse's
// error) or the token is revoked, and 503 (Err wraps ErrUnavailable) when
// the deny list cannot be read, so a possibly revoked token never gets
// through.
func (g *TokenGuard) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	id, err := g.parse(r)
	if err != nil {
		return unauthorized("A valid bearer token is required.", err)
	}
	revoked, err := g.deny.Revoked(r.Context(), id)
	switch {
	case err != nil:
		return &core.Rejection{Status: http.StatusServiceUnavailable,
			Detail: "Token revocations cannot be checked; try again shortly.", Err: err}
	case revoked:
		return unauthorized("This token has been revoked.", nil)
	}
	next.ServeHTTP(w, r)
	return nil
}

// Reject writes rej, a rejection Serve returned: through the deny list's
// Settings.OnReject when set, else as an RFC 9457 problem body.
func (g *TokenGuard) Reject(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
	g.deny.set.Reject(w, r, rej)
}

// ServeHTTP is Serve, writing any rejection with Reject.
func (g *TokenGuard) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := g.Serve(w, r, next); rej != nil {
		g.Reject(w, r, rej)
	}
}
