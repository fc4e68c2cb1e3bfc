package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/batch"
	"github.com/redisware/redisware/core/internal/keys"
	"github.com/redisware/redisware/core/internal/script"
	"github.com/redisware/redisware/core/internal/settings"
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
	//go:embed secret.lua
	secretLua string

	loadScript      = script.New(loadLua)
	saveScript      = script.New(saveLua)
	createScript    = script.New(createLua)
	takeScript      = script.New(takeLua)
	destroyScript   = script.New(destroyLua)
	revokeAllScript = script.New(revokeAllLua)
	listScript      = script.New(listLua)
	incrScript      = script.New(incrLua)
	secretScript    = script.New(secretLua)
)

// ErrUnavailable is wrapped by every error that comes from Redis failing or
// not answering in time.
var ErrUnavailable = errors.New("session: store unavailable")

// component names the package in the errors of New.
const component = "session"

// CookieOptions says how the session cookie is written. Every default is
// the safe choice; see the package documentation for each attribute.
type CookieOptions struct {
	// Name of the cookie, an RFC 6265 token. Zero means "session", or
	// "__Host-session" when HostPrefix is set. A name starting with
	// "__Host-" must meet HostPrefix's rules, and one starting with
	// "__Secure-" cannot be Insecure, or browsers would drop the cookie.
	Name string
	// Domain, when set, shares the cookie with subdomains. Zero (the
	// default) keeps it to the exact host, which is safer.
	Domain string
	// Path of the cookie; it must start with "/". Zero means "/".
	Path string
	// Insecure drops the Secure attribute. Leave it false: browsers send
	// Secure cookies to http://localhost too, so development works without
	// it. It cannot be combined with HostPrefix, Partitioned or
	// SameSite=None, which browsers accept only on Secure cookies.
	Insecure bool
	// SameSite of the cookie. Zero means http.SameSiteLaxMode;
	// http.SameSiteDefaultMode leaves the attribute out, so the browser's
	// default applies.
	SameSite http.SameSite
	// HostPrefix names the cookie with the "__Host-" prefix, which browsers
	// accept only with Secure, Path=/ and no Domain, so no subdomain can
	// set or shadow it. It cannot be combined with Domain, Insecure, a
	// Path other than "/", or a Name without the prefix.
	HostPrefix bool
	// Partitioned adds the Partitioned attribute (CHIPS), for sessions
	// used inside third-party iframes.
	Partitioned bool
	// SessionOnly leaves out Max-Age, so the browser forgets the cookie
	// when it closes, for every session that does not choose otherwise
	// with Session.RememberMe. By default (false) Max-Age tracks the
	// server-side expiry, unless a session chooses RememberMe(false). The
	// server ends sessions after IdleTimeout and Lifetime either way.
	SessionOnly bool
}

// Options configures a Manager. Every field is optional: zero means the
// default each field names. New rejects, naming the field, any value that
// cannot work.
type Options struct {
	// Settings are the deployment-wide settings (core.Settings): key
	// prefix, call timeout, logger, error hook, telemetry providers,
	// trusted proxies, secret and rejection writer. Copy the shared value
	// in; a field set here after that applies to this manager only.
	//
	// TrustedProxies decides the client address recorded with a session
	// (Info.Addr); OnReject writes the 503 a request gets when the store
	// cannot answer; OnError sees every Redis failure. Secret keys the
	// user tag that starts the cookie of a session bound to a user; zero
	// means a secret created once in Redis and shared by every instance,
	// and changing it logs out every user (see the package documentation).
	core.Settings
	// Lifetime is the absolute lifetime of a session, counted from login
	// (or creation), after which it is dead however active it is;
	// Session.SetDeadline can end one session earlier, never later. Zero
	// means 24 hours. It must be at least a millisecond, the resolution of
	// the times kept in Redis.
	Lifetime time.Duration
	// IdleTimeout ends a session that sees no request for this long. Zero
	// means 30 minutes, within OWASP's guidance for most applications; a
	// negative value disables idle expiry, so only Lifetime applies. A
	// positive value must be at least a millisecond and no longer than
	// Lifetime, past which it could never end a session. The idle expiry
	// is slid at most once a second (see the package documentation), so a
	// session can end up to a second early, never late.
	IdleTimeout time.Duration
	// Cookie configures the session cookie; each of its fields says its
	// default.
	Cookie CookieOptions
	// Codec encodes values for storage. Zero means JSONCodec.
	Codec Codec
	// MaxSessionsPerUser caps the sessions bound to one user; a login over
	// the cap ends the user's oldest session. Zero means no cap; it cannot
	// be negative.
	MaxSessionsPerUser int
	// Clock, when set, supplies the time sent to Redis with each call.
	// Zero means the scripts read the Redis server's clock, which every
	// instance of a fleet agrees on. Set it for tests, and for
	// Redis-compatible servers that refuse TIME in scripts.
	Clock func() time.Time
}

// Manager loads and saves sessions for HTTP requests. It is the
// core.Middleware that nethttp.Session, ginmw.Session and echomw.Session
// mount. Build it with New and share it: it is safe for concurrent use.
//
// Its metrics go to Settings.MeterProvider: redisware.session.operations
// by outcome (created, renewed, destroyed, revoked),
// redisware.session.load_failures and redisware.redis.duration.
// Settings.TracerProvider receives a span per request, made only as a
// child of the request's span.
type Manager struct {
	set        *settings.Resolved
	lifetime   time.Duration
	idle       time.Duration // 0: no idle expiry
	cookie     CookieOptions // defaults applied
	codec      Codec
	maxPerUser int
	clock      func() time.Time
	space      keys.Space
	tel        *instruments
	secretSrc  *secretSource
	// calls is what the scripts are sent through: the client itself when
	// it is an AutoPipeliner (which batches by itself), else batches, which
	// sends the calls of concurrent requests together.
	calls   script.Processor
	batches *batch.Calls
}

var _ core.Middleware = (*Manager)(nil)

// New returns a Manager on client configured by opts, or an error that
// names the first field of opts that cannot work (wrapping
// core.ErrConfig). Nothing is checked later: a Manager New returned never
// fails a request for its configuration.
func New(client redis.UniversalClient, opts Options) (*Manager, error) {
	set, err := settings.Resolve(component, client, opts.Settings)
	if err != nil {
		return nil, err
	}
	if err := validate(opts); err != nil {
		return nil, err
	}
	m := &Manager{
		set:        set,
		lifetime:   opts.Lifetime,
		idle:       opts.IdleTimeout,
		cookie:     opts.Cookie,
		codec:      opts.Codec,
		maxPerUser: opts.MaxSessionsPerUser,
		clock:      opts.Clock,
		space:      keys.NewSpace(set.Prefix, "sess", ""),
		tel:        newInstruments(set.MeterProvider, set.TracerProvider),
		secretSrc:  &secretSource{},
	}
	m.batches, m.calls = batch.NewCalls(client), client
	if _, ok := client.(*redis.AutoPipeliner); !ok {
		m.calls = m.batches
	}
	if len(set.Secret) > 0 {
		m.secretSrc.fixed = append([]byte(nil), set.Secret...)
	}
	if m.lifetime == 0 {
		m.lifetime = defaultLifetime
	}
	switch {
	case m.idle == 0:
		m.idle = defaultIdleTimeout
	case m.idle < 0:
		m.idle = 0
	}
	c := &m.cookie
	if c.Name == "" {
		c.Name = "session"
		if c.HostPrefix {
			c.Name = hostPrefix + "session"
		}
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	if m.codec == nil {
		m.codec = JSONCodec{}
	}
	set.WarnIfEvicting("sessions (users are logged out)")
	return m, nil
}

// The defaults of Options.Lifetime and Options.IdleTimeout.
const (
	defaultLifetime    = 24 * time.Hour
	defaultIdleTimeout = 30 * time.Minute
)

// Cookie name prefixes that browsers give rules of their own.
const (
	hostPrefix   = "__Host-"
	securePrefix = "__Secure-"
)

// validate returns the error of New for the first of opts' own fields that
// cannot work.
func validate(opts Options) error {
	invalid := func(field, format string, args ...any) error {
		return settings.Invalid(component, field, format, args...)
	}
	lifetime := opts.Lifetime
	switch {
	case lifetime < 0:
		return invalid("Lifetime", "is %v; give a positive duration, or zero for 24h", lifetime)
	case lifetime > 0 && lifetime < time.Millisecond:
		return invalid("Lifetime", "is %v, under a millisecond, the resolution of session times", lifetime)
	case lifetime == 0:
		lifetime = defaultLifetime
	}
	switch idle := opts.IdleTimeout; {
	case idle > 0 && idle < time.Millisecond:
		return invalid("IdleTimeout", "is %v, under a millisecond, the resolution of session times; set it negative to disable idle expiry", idle)
	case idle > lifetime:
		return invalid("IdleTimeout", "%v is longer than Options.Lifetime %v, so it could never end a session; shorten it, or set it negative to disable idle expiry", idle, lifetime)
	}
	if err := validateCookie(opts.Cookie, invalid); err != nil {
		return err
	}
	if opts.MaxSessionsPerUser < 0 {
		return invalid("MaxSessionsPerUser", "is %d; give a positive cap, or zero for none", opts.MaxSessionsPerUser)
	}
	return nil
}

func validateCookie(c CookieOptions, invalid func(field, format string, args ...any) error) error {
	if c.Name != "" && (&http.Cookie{Name: c.Name, Value: "v"}).Valid() != nil {
		return invalid("Cookie.Name", "%q is not a valid cookie name (an RFC 6265 token)", c.Name)
	}
	if c.Domain != "" && (&http.Cookie{Name: "n", Value: "v", Domain: c.Domain}).Valid() != nil {
		return invalid("Cookie.Domain", "%q is not a valid cookie domain", c.Domain)
	}
	if c.Path != "" && (!strings.HasPrefix(c.Path, "/") || (&http.Cookie{Name: "n", Value: "v", Path: c.Path}).Valid() != nil) {
		return invalid("Cookie.Path", "%q is not a cookie path starting with \"/\"", c.Path)
	}
	// Browsers match the prefixes without regard to case.
	named := func(prefix string) bool {
		return len(c.Name) >= len(prefix) && strings.EqualFold(c.Name[:len(prefix)], prefix)
	}
	if c.HostPrefix || named(hostPrefix) {
		field := "Cookie.HostPrefix"
		if !c.HostPrefix {
			field = "Cookie.Name"
		}
		const why = "browsers accept a __Host- cookie only with Secure, Path=/ and no Domain"
		switch {
		case c.HostPrefix && c.Name != "" && !named(hostPrefix):
			return invalid(field, "needs a Cookie.Name starting with %q (zero means %q); %q has none", hostPrefix, hostPrefix+"session", c.Name)
		case c.Domain != "":
			return invalid(field, "cannot be combined with Cookie.Domain: %s", why)
		case c.Insecure:
			return invalid(field, "cannot be combined with Cookie.Insecure: %s", why)
		case c.Path != "" && c.Path != "/":
			return invalid(field, "cannot be combined with Cookie.Path %q: %s", c.Path, why)
		}
	}
	if named(securePrefix) && c.Insecure {
		return invalid("Cookie.Name", "%q cannot be combined with Cookie.Insecure: browsers accept a __Secure- cookie only with Secure", c.Name)
	}
	switch c.SameSite {
	case 0, http.SameSiteDefaultMode, http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if c.Insecure {
			return invalid("Cookie.SameSite", "None cannot be combined with Cookie.Insecure: browsers accept SameSite=None only with Secure")
		}
	default:
		return invalid("Cookie.SameSite", "is %d, none of net/http's SameSite modes", c.SameSite)
	}
	if c.Partitioned && c.Insecure {
		return invalid("Cookie.Partitioned", "cannot be combined with Cookie.Insecure: browsers accept a Partitioned cookie only with Secure")
	}
	return nil
}

// Reject writes rej, a rejection Serve returned: through
// Settings.OnReject when set, else as an RFC 9457 problem body.
func (m *Manager) Reject(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
	m.set.Reject(w, r, rej)
}

// unavailable is the rejection of a request whose session the store could
// not load or save; err wraps ErrUnavailable.
func unavailable(err error) *core.Rejection {
	return &core.Rejection{
		Status: http.StatusServiceUnavailable,
		Detail: "Sessions are unavailable; try again shortly.",
		Err:    err,
	}
}

// now returns the argument that tells a script the time: the Clock's, in
// milliseconds, or "" for the server's.
func (m *Manager) now() interface{} {
	if m.clock != nil {
		return m.clock().UnixMilli()
	}
	return ""
}

func (m *Manager) fail(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	m.set.Report(ctx, "session: redis call failed", err)
	return err
}

// run calls script under the deadline, measured as op. The script runs at
// most once: a call whose reply was lost fails (see package script).
func (m *Manager) run(ctx context.Context, op *telemetry.RedisOp, s *script.Script, ks []string, args ...interface{}) (interface{}, error) {
	var v interface{}
	err := m.set.Call.DoScriptMeasured(ctx, op, func(ctx context.Context) error {
		r, err := s.Run(ctx, m.calls, ks, args...).Result()
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

// ref locates a session in Redis.
type ref struct {
	tag  string // user tag; "" for a session bound to nobody
	hash string // hashID of the ID
}

// parseCookie reads a cookie value: "<id>" or "<user tag>.<id>". Anything
// else is no session. It needs no secret: the tag is checked against the
// session's user when the session is loaded.
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

// marker returns the key of the renewal marker of session r (see
// take.lua), in r's slot.
func (m *Manager) marker(r ref) string {
	if r.tag == "" {
		return m.space.Tagged(r.hash, ":r")
	}
	return m.space.Tagged("u."+r.tag, ":r:") + r.hash
}

// renewedMarkerTTL is how long a renewed ID stays marked as renewed: long
// enough for the requests a browser sent before it received the new cookie
// to arrive, short enough that the marker is gone well before anyone could
// mistake it for a session.
const renewedMarkerTTL = time.Minute
