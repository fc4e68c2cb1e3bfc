package session

import (
	"context"
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

// Session is one client's session during one request. Reads see the values
// as loaded plus this request's own changes; changes are written when the
// response starts (and any made after that, when the handler returns), and
// only the values this request changed are written, so concurrent requests
// that change different values all keep their change. It is safe for use
// by the handler's goroutines.
type Session struct {
	m  *Manager
	mu sync.Mutex

	id     string // the session ID; "" until one exists
	ref    ref
	stored bool // the session exists in Redis
	values map[string]string
	set    map[string]bool
	del    map[string]bool

	created, deadline time.Time
	user              string

	renew   bool
	login   *string
	destroy bool
	sentBad bool // the request carried a cookie naming no live session
}

func newSession(m *Manager) *Session {
	return &Session{m: m, values: map[string]string{}, set: map[string]bool{}, del: map[string]bool{}}
}

// Put stores v under key, encoded by the Manager's Codec.
func (s *Session) Put(key string, v any) error {
	data, err := s.m.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("session: encoding %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[key] = data
	s.set[key] = true
	delete(s.del, key)
	return nil
}

// Get decodes the value under key into dst and reports whether there was
// one.
func (s *Session) Get(key string, dst any) (bool, error) {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.values[key]
	return ok
}

// Keys returns the keys that hold values, sorted.
func (s *Session) Keys() []string {
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

// Remove deletes the value under key.
func (s *Session) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[key]; !ok && !s.set[key] {
		return
	}
	delete(s.values, key)
	delete(s.set, key)
	s.del[key] = true
}

// Clear deletes every value; the session itself (and its user) remains.
func (s *Session) Clear() {
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
// A missing value counts as 0. It needs a stored session; on a session not
// stored yet it stores delta as a change like Put.
func (s *Session) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	s.mu.Lock()
	stored, r := s.stored && !s.renew && s.login == nil && !s.destroy, s.ref
	s.mu.Unlock()
	if !stored {
		n := s.GetInt64(key) + delta
		return n, s.Put(key, n)
	}
	v, err := s.m.run(ctx, s.m.tel.ops["incr"], incrScript, []string{s.m.key(r)}, "v:"+key, delta)
	if err != nil {
		return 0, s.m.fail(ctx, "incr", err)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, errors.New("session: the session is gone")
	}
	s.mu.Lock()
	s.values[key] = strconv.FormatInt(n, 10)
	s.mu.Unlock()
	return n, nil
}

// Renew gives the session a new ID when the response starts, keeping its
// values and user; the old ID is dead from then on. Call it whenever the
// user's privileges change; Login does it for you.
func (s *Session) Renew() {
	s.mu.Lock()
	s.renew = true
	s.mu.Unlock()
}

// Login binds the session to user and renews it (a new ID; the old one is
// dead), as OWASP asks on every authentication. The session then appears in
// ListSessions for the user, and RevokeAll ends it. Its absolute lifetime
// starts anew.
func (s *Session) Login(user string) {
	s.mu.Lock()
	s.login = &user
	s.renew = true
	s.mu.Unlock()
}

// Destroy ends the session when the response starts (logout): Redis forgets
// it, and the client is told to drop its cookie.
func (s *Session) Destroy() {
	s.mu.Lock()
	s.destroy = true
	s.mu.Unlock()
}

// User returns the user the session is bound to, or "".
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.login != nil {
		return *s.login
	}
	return s.user
}

// CreatedAt returns when the session was created (or last logged in); zero
// for a session not stored yet.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Deadline returns when the session ends at the latest (its absolute
// lifetime); zero for a session not stored yet.
func (s *Session) Deadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline
}

// Ref returns an opaque reference to the session, as ListSessions reports
// it (to mark the current one); "" for a session not stored yet.
func (s *Session) Ref() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stored {
		return ""
	}
	return s.ref.hash
}

// dirty reports whether there is anything to write.
func (s *Session) dirty() bool {
	return len(s.set) > 0 || len(s.del) > 0 || s.renew || s.destroy
}
