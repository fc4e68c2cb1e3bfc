package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

type ctxKey struct{}

// FromContext returns the session the middleware attached to a request's
// context, or nil outside the middleware.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// NewContext returns ctx carrying s; the middleware does this for every
// request, and tests may use it to hand a handler a session.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// ErrNotInteger is returned by Incr when the value under its key is not an
// integer; nothing is added then.
var ErrNotInteger = errors.New("session: the value is not an integer")

// loadState says whether a Session's stored data has been read.
type loadState uint8

const (
	unloaded loadState = iota // the cookie names a session not read yet
	loaded                    // read, or nothing to read (no cookie)
	failed                    // the store could not answer: see Session.err
)

// Session is one client's session during one request.
//
// It is loaded lazily: the middleware only reads the cookie, and the
// session's data is read from Redis (and its idle expiry slid, in the same
// round trip) by the first method that needs it, once. The methods that
// load are Load, User, Get and its typed forms, Pop and PopString, Exists,
// Keys, Clear, Incr, CreatedAt, Deadline and Ref. Put, Remove, Renew,
// Login, RememberMe, SetDeadline and Destroy only record what to do,
// without calling Redis; what they recorded is written when the response
// starts, in one round trip, loaded or not (a session changed but never
// loaded is written without a load, by a script that makes the load's
// checks itself, so a change never reaches a session that has ended). A
// request that never touches its session costs no Redis call and sets no
// cookie.
//
// When the load fails, the session is failed: reads return zero values
// (Get and Pop return the error too), nothing the request changes is
// written, and when the response starts the middleware replaces it with
// its 503 rejection (Manager.Reject), so no client gets a response built
// on an empty session and no change overwrites the real one. Handlers with
// side effects should call Load first and stop on its error.
//
// Reads see the values as loaded plus this request's own changes; only the
// values this request changed are written, so concurrent requests that
// change different values all keep their change. It is safe for use by
// the handler's goroutines.
type Session struct {
	m   *Manager
	ctx context.Context // the request's: loads made by methods without a context use it

	loadMu sync.Mutex // held while loading, so the session is loaded once
	mu     sync.Mutex // guards everything below

	cookie string // the well-formed session cookie the request carried; "" for none
	sent   ref    // the session that cookie names
	id     string // the session ID: the cookie's until renewed
	ref    ref    // the session's location; sent until renewed

	state  loadState
	err    error // why the load failed
	used   bool  // a method of the session was called: the response depends on the cookie
	stored bool  // the session exists in Redis, as far as this request knows
	seen   bool  // the handler saw the session alive (a load found it)
	keyed  bool  // the loaded session holds the secret's fingerprint (see Manager.fingerprint)

	values map[string]string
	set    map[string]bool
	del    map[string]bool

	created, deadline time.Time
	user              string
	refresh           time.Time // when not zero: re-send the cookie, its Max-Age counted from then
	remember          remember  // the stored choice of RememberMe, as loaded or created

	setRemember remember  // this request's RememberMe; rememberDefault for none
	until       time.Time // this request's SetDeadline (ms precision); zero for none

	renewed bool // the cookie names an ID renewed moments ago: no session, and no cookie change
	sentBad bool // the cookie named no live session, or was malformed: clear it

	renew   bool
	login   *string
	destroy bool
}

func newSession(m *Manager, ctx context.Context) *Session {
	return &Session{m: m, ctx: ctx, values: map[string]string{}, set: map[string]bool{}, del: map[string]bool{}}
}

// Load reads the session from Redis, and slides its idle expiry, if it has
// not been read yet: one round trip, or none when the request carried no
// session cookie or the session is loaded already. It returns nil when the
// session is usable (a request whose cookie names no live session gets an
// empty one, as any method would see it), and the error, wrapping
// ErrUnavailable, when the store could not answer: the response will then
// be the middleware's 503, so stop and do nothing with side effects.
// Every later call returns the same error.
func (s *Session) Load(ctx context.Context) error { return s.ensure(ctx) }

// ensure loads s once, with ctx.
func (s *Session) ensure(ctx context.Context) error {
	s.mu.Lock()
	s.used = true
	st, err := s.state, s.err
	s.mu.Unlock()
	if st != unloaded {
		return err
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	s.mu.Lock()
	st, err = s.state, s.err
	s.mu.Unlock()
	if st != unloaded {
		return err
	}
	_, err = s.m.load(ctx, s, "", 0)
	return err
}

// VaryKey identifies the session cookie the request carried, without
// calling Redis: the base64url SHA-256 of the cookie's value under a fixed
// key of this package, the same on every instance; "" when the request
// carried no well-formed session cookie (a guest). It is what a cache keys
// its variants on when a response is produced under the session
// middleware: two requests share a variant only if they carried the same
// cookie. It reveals nothing usable: the cookie holds a 256-bit random ID,
// and the key keeps the value apart from the session's own Redis key.
//
// Calling it counts as using the session, without loading it: the
// middleware marks the response Vary: Cookie (a cache hit served under the
// session middleware says so too), and clears a malformed cookie.
func (s *Session) VaryKey() string {
	s.mu.Lock()
	s.used = true
	s.mu.Unlock()
	if s.cookie == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("redisware session vary key\x00" + s.cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Put records v, encoded by the Manager's Codec, under key. It does not
// call Redis: the change is written when the response starts, without a
// load if nothing loaded the session.
func (s *Session) Put(key string, v any) error {
	data, err := s.m.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("session: encoding %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = true
	s.values[key] = data
	s.set[key] = true
	delete(s.del, key)
	return nil
}

// Get decodes the value under key into dst and reports whether there was
// one. It loads the session first; if that fails it returns false and the
// error (wrapping ErrUnavailable).
func (s *Session) Get(key string, dst any) (bool, error) {
	if err := s.ensure(s.ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	data, ok := s.values[key]
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := s.m.codec.Decode(data, dst); err != nil {
		return true, fmt.Errorf("session: decoding %q: %w", key, err)
	}
	return true, nil
}

// Exists reports whether key holds a value.
func (s *Session) Exists(key string) bool {
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.values[key]
	return ok
}

// Keys returns the keys that hold values, sorted.
func (s *Session) Keys() []string {
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.values))
	for k := range s.values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// GetString returns the string under key, or "" if none (or not a string).
func (s *Session) GetString(key string) string {
	var v string
	_, _ = s.Get(key, &v)
	return v
}

// GetInt returns the integer under key, or 0 if none (or not an integer).
func (s *Session) GetInt(key string) int {
	var v int
	if _, err := s.Get(key, &v); err != nil {
		return 0
	}
	return v
}

// GetInt64 returns the integer under key, or 0 if none.
func (s *Session) GetInt64(key string) int64 {
	var v int64
	if _, err := s.Get(key, &v); err != nil {
		return 0
	}
	return v
}

// GetFloat returns the number under key, or 0 if none.
func (s *Session) GetFloat(key string) float64 {
	var v float64
	_, _ = s.Get(key, &v)
	return v
}

// GetBool returns the boolean under key, or false if none.
func (s *Session) GetBool(key string) bool {
	var v bool
	_, _ = s.Get(key, &v)
	return v
}

// GetTime returns the time under key, or the zero time if none.
func (s *Session) GetTime(key string) time.Time {
	var v time.Time
	_, _ = s.Get(key, &v)
	return v
}

// GetBytes returns the byte slice under key, or nil if none.
func (s *Session) GetBytes(key string) []byte {
	var v []byte
	_, _ = s.Get(key, &v)
	return v
}

// GetJSON decodes the value under key into dst (a pointer to a struct, map
// or slice) and reports whether there was one. It is Get, named for what
// it is mostly used for.
func (s *Session) GetJSON(key string, dst any) (bool, error) { return s.Get(key, dst) }

// PopString returns the string under key and removes it: a one-time
// (flash) message.
func (s *Session) PopString(key string) string {
	v := s.GetString(key)
	s.Remove(key)
	return v
}

// Pop decodes the value under key into dst, removes it, and reports whether
// there was one.
func (s *Session) Pop(key string, dst any) (bool, error) {
	ok, err := s.Get(key, dst)
	s.Remove(key)
	return ok, err
}

// Remove records the deletion of the value under key. It does not call
// Redis: the deletion is written when the response starts, and is nothing
// to write if the loaded session holds no such value.
func (s *Session) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = true
	if s.state == loaded {
		if _, ok := s.values[key]; !ok && !s.set[key] {
			return
		}
	}
	delete(s.values, key)
	delete(s.set, key)
	s.del[key] = true
}

// Clear deletes every value; the session itself (and its user) remains. It
// loads the session first, to know its values.
func (s *Session) Clear() {
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.values {
		s.del[k] = true
	}
	s.values = map[string]string{}
	s.set = map[string]bool{}
}

// Incr adds delta to the integer under key at once, in Redis, and returns
// the new value: exact however many requests of the session do it at once.
// A missing value counts as 0; a value that is not an integer is left as it
// is, with ErrNotInteger. On a session not loaded yet it loads the session
// and adds in the same round trip. On a session that is not stored (a
// guest's, or one to be renewed or destroyed by this request) it records
// the sum as a change, like Put.
func (s *Session) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	s.mu.Lock()
	s.used = true
	pending := s.renew || s.login != nil || s.destroy
	st := s.state
	s.mu.Unlock()
	if st == unloaded && !pending {
		s.loadMu.Lock()
		s.mu.Lock()
		st = s.state
		s.mu.Unlock()
		if st == unloaded {
			res, err := s.m.load(ctx, s, key, delta)
			s.loadMu.Unlock()
			if err != nil {
				return 0, err
			}
			switch res.status {
			case incrDone:
				return res.n, nil
			case incrNotInteger:
				return 0, fmt.Errorf("%w: %q", ErrNotInteger, key)
			}
			// not stored: added below, as a change
		} else {
			s.loadMu.Unlock()
		}
	}
	if err := s.ensure(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	stored := s.stored && !s.renew && s.login == nil && !s.destroy
	r := s.ref
	s.mu.Unlock()
	if !stored {
		n := s.GetInt64(key) + delta
		return n, s.Put(key, n)
	}
	v, err := s.m.run(ctx, s.m.tel.ops["incr"], incrScript, []string{s.m.key(r)}, "v:"+key, delta)
	if err != nil {
		return 0, s.m.fail(ctx, "incr", err)
	}
	switch v := v.(type) {
	case []interface{}:
		n, _ := v[0].(int64)
		s.mu.Lock()
		s.values[key] = strconv.FormatInt(n, 10)
		s.mu.Unlock()
		return n, nil
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("%w: %q", ErrNotInteger, key)
		}
	}
	return 0, errors.New("session: the session is gone")
}

// Renew gives the session a new ID when the response starts, keeping its
// values, user, RememberMe choice and deadline; the old ID is dead from
// then on. Call it whenever the user's privileges change; Login does it
// for you. A session that no longer exists when the response starts
// (logged out, revoked, evicted by MaxSessionsPerUser, expired, or renewed
// by another request) is not renewed: the request ends with no session,
// its changes are dropped, and its cookie is cleared (left alone when
// another request renewed it, whose response carries the new cookie). It
// does not call Redis itself.
func (s *Session) Renew() {
	s.mu.Lock()
	s.used = true
	s.renew = true
	s.mu.Unlock()
}

// Login binds the session to user and renews it (a new ID; the old one is
// dead), as OWASP asks on every authentication. The session then appears in
// ListSessions for the user, and RevokeAll ends it. Its absolute lifetime
// starts anew (a deadline an earlier request set with SetDeadline goes with
// the old lifetime); its RememberMe choice is kept, unless this request
// makes one. When the session the request carried no longer exists, Login
// creates a new one for user, holding only this request's changes: it never
// inherits a dead session's user, values or choices. It does not call Redis
// itself.
func (s *Session) Login(user string) {
	s.mu.Lock()
	s.used = true
	s.login = &user
	s.renew = true
	s.mu.Unlock()
}

// RememberMe chooses the session's cookie: persistent (true), with a
// Max-Age that outlives the browser, or a browser-session cookie (false),
// with neither Max-Age nor Expires, which the browser forgets when it
// closes. It is the "remember me" box of a login form:
//
//	s.Login(user)
//	s.RememberMe(r.PostFormValue("remember") == "on")
//
// The choice is stored in the session, so every later cookie of the
// session keeps it, across Renew and Login (a Login keeps it unless its
// request calls RememberMe too). It decides only what the browser keeps:
// the server ends the session after IdleTimeout or at its deadline either
// way. A session for which it is never called follows
// Options.Cookie.SessionOnly (by default, persistent).
//
// Like Put, it does not call Redis: the choice is written with the
// session's other changes when the response starts, and the cookie is
// re-sent when the choice changes what it carries. A request that leaves
// no session (a guest's that stores nothing) has nothing to apply it to.
// Calls made after the response started are ignored, as the cookie can no
// longer change.
func (s *Session) RememberMe(remember bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = true
	s.setRemember = rememberNo
	if remember {
		s.setRemember = rememberYes
	}
}

// SetDeadline ends the session at t at the latest, however active it is:
// an administrator's session that lasts 15 minutes, or one that ends with
// the working day. It only ever brings the end closer: the session's
// deadline becomes the earlier of t and its current one (the end of its
// Lifetime, or an earlier SetDeadline's), so a t beyond the Lifetime
// changes nothing and no call lengthens a session. The zero time changes
// nothing. Renew keeps the deadline; Login starts a new Lifetime, to which
// a SetDeadline of the same request applies.
//
// Like Put, it does not call Redis: the deadline is written with the
// session's other changes when the response starts, in the same round
// trip, and changes made by concurrent requests are all kept. Every load
// enforces it, as it does the Lifetime; the session's Redis TTL follows it,
// and so does the cookie's Max-Age (re-sent; a browser-session cookie has
// none to change). Deadline and ListSessions report it. A t at or before
// the time of that write ends the session then: Redis forgets it and the
// response clears the cookie. Destroy is the plain logout;
// SetDeadline(time.Now()) ends the session the same way, for code that
// computes the deadline. A request that leaves no session (a guest's that
// stores nothing) has nothing to apply it to.
func (s *Session) SetDeadline(t time.Time) {
	if t.IsZero() {
		return
	}
	t = time.UnixMilli(t.UnixMilli()) // the resolution of session times
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = true
	if s.until.IsZero() || t.Before(s.until) {
		s.until = t
	}
}

// Destroy ends the session when the response starts (logout): Redis forgets
// it, and the client is told to drop its cookie. It needs no load: the
// session is deleted by its ID, in one round trip.
func (s *Session) Destroy() {
	s.mu.Lock()
	s.used = true
	s.destroy = true
	s.mu.Unlock()
}

// User returns the user the session is bound to, or "" (after Login, the
// user given to it).
func (s *Session) User() string {
	s.mu.Lock()
	s.used = true
	login := s.login
	s.mu.Unlock()
	if login != nil {
		return *login
	}
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// CreatedAt returns when the session was created (or last logged in); zero
// for a session not stored yet.
func (s *Session) CreatedAt() time.Time {
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Deadline returns when the session ends at the latest: the end of its
// Lifetime, or the earlier deadline SetDeadline gave it (this request's
// call included); zero for a session not stored yet.
func (s *Session) Deadline() time.Time {
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deadline.IsZero() && !s.until.IsZero() && s.until.Before(s.deadline) {
		return s.until
	}
	return s.deadline
}

// Ref returns an opaque reference to the session, as ListSessions reports
// it (to mark the current one); "" for a session not stored yet.
func (s *Session) Ref() string {
	_ = s.ensure(s.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stored {
		return ""
	}
	return s.ref.hash
}

// remember is a session's choice of cookie, stored in its fRemember field.
type remember uint8

const (
	rememberDefault remember = iota // not chosen: Options.Cookie.SessionOnly decides
	rememberYes                     // persistent, with Max-Age: stored as "1"
	rememberNo                      // a browser-session cookie: stored as "0"
)

// parseRemember reads a stored fRemember field.
func parseRemember(v string) remember {
	switch v {
	case "1":
		return rememberYes
	case "0":
		return rememberNo
	}
	return rememberDefault
}

// field is the value stored for r.
func (r remember) field() string {
	if r == rememberYes {
		return "1"
	}
	return "0"
}

// dirty reports whether there is anything to write.
func (s *Session) dirty() bool {
	return len(s.set) > 0 || len(s.del) > 0 || s.renew || s.destroy || s.metaPending()
}

// metaPending reports whether RememberMe or SetDeadline left something to
// write. The caller holds s.mu.
func (s *Session) metaPending() bool {
	return s.setRemember != rememberDefault || !s.until.IsZero()
}
