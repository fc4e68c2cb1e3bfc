package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core/internal/clientip"
	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/problem"
	"github.com/redisware/redisware/core/internal/rediscall"
	"github.com/redisware/redisware/core/internal/telemetry"
)

var (
	//go:embed load.lua
	loadLua string
	//go:embed save.lua
	saveLua string
	//go:embed create.lua
	createLua string
	//go:embed take.lua
	takeLua string
	//go:embed destroy.lua
	destroyLua string
	//go:embed revoke_all.lua
	revokeAllLua string
	//go:embed list.lua
	listLua string
	//go:embed incr.lua
	incrLua string

	loadScript      = redis.NewScript(loadLua)
	saveScript      = redis.NewScript(saveLua)
	createScript    = redis.NewScript(createLua)
	takeScript      = redis.NewScript(takeLua)
	destroyScript   = redis.NewScript(destroyLua)
	revokeAllScript = redis.NewScript(revokeAllLua)
	listScript      = redis.NewScript(listLua)
	incrScript      = redis.NewScript(incrLua)
)

// ErrUnavailable is wrapped by every error that comes from Redis failing or
// not answering in time.
var ErrUnavailable = errors.New("session: store unavailable")

// CookieOptions says how the session cookie is written. Every default is
// the safe choice; see the package documentation for each attribute.
type CookieOptions struct {
	// Name of the cookie. Zero means "session", or "__Host-session" when
	// HostPrefix is set.
	Name string
	// Domain, when set, shares the cookie with subdomains. Zero (the
	// default) keeps it to the exact host, which is safer.
	Domain string
	// Path of the cookie. Zero means "/".
	Path string
	// Insecure drops the Secure attribute. Leave it false: browsers send
	// Secure cookies to http://localhost too, so development works without
	// it.
	Insecure bool
	// SameSite of the cookie. Zero means http.SameSiteLaxMode.
	SameSite http.SameSite
	// HostPrefix names the cookie with the "__Host-" prefix, which browsers
	// accept only with Secure, Path=/ and no Domain, so no subdomain can
	// set or shadow it. It cannot be combined with Domain or Insecure.
	HostPrefix bool
	// Partitioned adds the Partitioned attribute (CHIPS), for sessions
	// used inside third-party iframes.
	Partitioned bool
	// SessionOnly leaves out Max-Age, so the browser forgets the cookie
	// when it closes. By default Max-Age tracks the server-side expiry.
	SessionOnly bool
}

// Manager loads and saves sessions for HTTP requests. Create it with New,
// adjust the fields before first use, and share it; it is safe for
// concurrent use. Each field says its default.
type Manager struct {
	// Lifetime is the absolute lifetime of a session, counted from login
	// (or creation), after which it is dead however active it is. Default
	// 24 hours.
	Lifetime time.Duration
	// IdleTimeout ends a session that sees no request for this long. Zero
	// disables it (then only Lifetime applies). Default 30 minutes, within
	// OWASP's guidance for most applications.
	IdleTimeout time.Duration
	// Cookie configures the session cookie.
	Cookie CookieOptions
	// Codec encodes values for storage. Default JSONCodec.
	Codec Codec
	// ErrorFunc writes the response when the store cannot be reached (or
	// fails): by default 503 with an application/problem+json body, so a
	// user is never silently logged out.
	ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)
	// MaxSessionsPerUser caps the sessions bound to one user; a login over
	// the cap ends the user's oldest session. Zero means no cap.
	MaxSessionsPerUser int
	// TrustedProxies lists the proxies whose X-Forwarded-For is believed
	// when recording a session's address. Default none.
	TrustedProxies []string
	// Prefix starts every Redis key. Default "redisware:".
	Prefix string
	// Timeout bounds each Redis call. Default 100ms; negative means no
	// deadline of our own.
	Timeout time.Duration
	// Clock, when set, supplies the time sent to Redis with each call; by
	// default the scripts read the Redis server's clock. For tests and for
	// Redis-compatible servers that refuse TIME in scripts.
	Clock func() time.Time
	// Logger receives warnings for store failures. Default slog.Default().
	// Session IDs and cookie values never appear in its lines.
	Logger *slog.Logger
	// MeterProvider receives the metrics (redisware.session.operations by
	// outcome: created, renewed, destroyed, revoked;
	// redisware.session.load_failures; redisware.redis.duration). Default
	// the global provider, a no-op until the application installs an SDK.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span per request. Default the global
	// provider.
	TracerProvider trace.TracerProvider

	client redis.UniversalClient
	once   sync.Once
	err    error
	call   rediscall.Caller
	space  keys.Space
	ip     *clientip.Resolver
	tel    *instruments
}

// New returns a Manager on client with the defaults documented on its
// fields.
func New(client redis.UniversalClient) *Manager {
	return &Manager{
		client:      client,
		Lifetime:    24 * time.Hour,
		IdleTimeout: 30 * time.Minute,
		Codec:       JSONCodec{},
	}
}

// Validate reports whether the Manager's fields can work. The middleware
// calls it on first use and answers 500 to every request if they cannot;
// call it at start-up to fail early.
func (m *Manager) Validate() error {
	m.once.Do(m.init)
	return m.err
}

func (m *Manager) init() {
	c := &m.Cookie
	switch {
	case m.client == nil:
		m.err = errors.New("session: nil Redis client")
	case m.Lifetime <= 0:
		m.err = fmt.Errorf("session: Lifetime %v must be positive", m.Lifetime)
	case m.IdleTimeout < 0:
		m.err = fmt.Errorf("session: IdleTimeout %v is negative", m.IdleTimeout)
	case c.HostPrefix && (c.Domain != "" || c.Insecure || (c.Path != "" && c.Path != "/")):
		m.err = errors.New("session: a __Host- cookie needs Secure, Path=/ and no Domain")
	case c.SameSite == http.SameSiteNoneMode && c.Insecure:
		m.err = errors.New("session: SameSite=None requires Secure")
	case m.MaxSessionsPerUser < 0:
		m.err = errors.New("session: MaxSessionsPerUser is negative")
	}
	if m.err != nil {
		return
	}
	if c.Name == "" {
		c.Name = "session"
		if c.HostPrefix {
			c.Name = "__Host-session"
		}
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	if m.Codec == nil {
		m.Codec = JSONCodec{}
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	if m.ErrorFunc == nil {
		m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
			problem.Write(w, problem.New(http.StatusServiceUnavailable, "Sessions are unavailable; try again shortly."))
		}
	}
	trusted, err := clientip.ParseTrusted(m.TrustedProxies)
	if err != nil {
		m.err = fmt.Errorf("session: %w", err)
		return
	}
	m.ip, _ = clientip.New(trusted, 128)
	m.call = rediscall.New(m.client, m.Timeout)
	m.space = keys.NewSpace(m.Prefix, "sess", "")
	m.tel = newInstruments(m.MeterProvider, m.TracerProvider)
}

// now returns the argument that tells a script the time: the Clock's, in
// milliseconds, or "" for the server's.
func (m *Manager) now() interface{} {
	if m.Clock != nil {
		return m.Clock().UnixMilli()
	}
	return ""
}

func (m *Manager) fail(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	m.Logger.LogAttrs(ctx, slog.LevelWarn, "session: redis call failed", slog.Any("error", err))
	return err
}

// run calls script under the deadline, measured as op.
func (m *Manager) run(ctx context.Context, op *telemetry.RedisOp, s *redis.Script, ks []string, args ...interface{}) (interface{}, error) {
	var v interface{}
	err := m.call.DoMeasured(ctx, op, func(ctx context.Context) error {
		r, err := s.Run(ctx, m.client, ks, args...).Result()
		if errors.Is(err, redis.Nil) {
			r, err = nil, nil
		}
		v = r
		return err
	})
	if err != nil {
		// On a deadline the call may still finish in the background and
		// write v: never read it then.
		return nil, err
	}
	return v, nil
}

// ids

const idBytes = 32

// newID returns a session ID: 256 bits from crypto/rand, base64url.
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashID is what Redis holds in place of an ID: a dump of Redis yields no
// usable cookie.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// userTag names a user's slot and appears in the cookies of the user's
// sessions; it is a hash, so user names never reach a key or a cookie.
func userTag(user string) string {
	sum := sha256.Sum256([]byte("user\x00" + user))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// ref locates a session in Redis.
type ref struct {
	tag  string // user tag; "" for a session bound to nobody
	hash string // hashID of the ID
}

// parseCookie reads a cookie value: "<id>" or "<user tag>.<id>". Anything
// else is no session.
func parseCookie(v string) (id string, r ref, ok bool) {
	tag, id, bound := strings.Cut(v, ".")
	if !bound {
		id, tag = tag, ""
	}
	if len(id) != 43 || !b64(id) || (bound && (len(tag) != 16 || !b64(tag))) {
		return "", ref{}, false
	}
	return id, ref{tag: tag, hash: hashID(id)}, true
}

func b64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func cookieValue(id string, r ref) string {
	if r.tag == "" {
		return id
	}
	return r.tag + "." + id
}

// key returns the Redis key of the session r; every session of one user
// shares the user's hash tag.
func (m *Manager) key(r ref) string {
	if r.tag == "" {
		return m.space.Tagged(r.hash, "")
	}
	return m.userBase(r.tag) + r.hash
}

// userBase is the key prefix of a user's sessions.
func (m *Manager) userBase(tag string) string { return m.space.Tagged("u."+tag, ":s:") }

// index is the key of a user's session index.
func (m *Manager) index(tag string) string { return m.space.Tagged("u."+tag, ":idx") }
