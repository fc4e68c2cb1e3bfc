package session

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/telemetry"
)

// metadata fields; values are stored as "v:<key>".
const (
	fCreated  = "_c"
	fSeen     = "_s"
	fDeadline = "_d"
	fUser     = "_u"
	fAgent    = "_a"
	fAddr     = "_i"
)

// maxAgent bounds the stored User-Agent.
const maxAgent = 256

// Load returns the request's session: the one its cookie names, loaded and
// its idle expiry slid in one round trip, or a new empty one (not stored
// until it holds a value). A cookie naming no live session is never
// adopted. The error, wrapping ErrUnavailable, means the store could not
// answer: the request must not go on as if logged out.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	s := newSession(m)
	c, err := r.Cookie(m.cookie.Name)
	if err != nil || c.Value == "" {
		return s, nil
	}
	id, rf, ok := parseCookie(c.Value)
	if !ok {
		s.sentBad = true
		return s, nil
	}
	v, err := m.run(r.Context(), m.tel.ops["load"], loadScript, []string{m.key(rf)}, m.now(), m.idle.Milliseconds())
	if err != nil {
		if m.tel.t.On {
			m.tel.loadFailures.Add(r.Context(), 1, m.tel.plain)
		}
		return nil, m.fail(r.Context(), "load", err)
	}
	reply, _ := v.([]interface{})
	if len(reply) < 2 {
		s.sentBad = true
		return s, nil
	}
	s.id, s.ref, s.stored = id, rf, true
	for i := 2; i+1 < len(reply); i += 2 {
		f, _ := reply[i].(string)
		val, _ := reply[i+1].(string)
		switch {
		case strings.HasPrefix(f, "v:"):
			s.values[f[2:]] = val
		case f == fCreated:
			s.created = msTime(val)
		case f == fDeadline:
			s.deadline = msTime(val)
		case f == fUser:
			s.user = val
		}
	}
	return s, nil
}

func msTime(v string) time.Time {
	n, _ := strconv.ParseInt(v, 10, 64)
	return time.UnixMilli(n)
}

// ServeHTTP runs next with the request's session in its context, and writes
// a rejection itself (Reject) when the session cannot be loaded.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := m.Serve(w, r, next); rej != nil {
		m.Reject(w, r, rej)
	}
}

// Serve loads the session, runs next with it in the request's context and
// a writer that saves the session (and sets the cookie) just before the
// response starts, then saves any change made after that. When the store
// cannot load the session it returns a 503 rejection, whose Err wraps
// ErrUnavailable, without running next or writing anything. If saving
// fails just before the response starts, the client gets that 503
// (written by Reject) instead of the handler's response, so it never
// believes a change was kept that was not.
func (m *Manager) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	if !m.tel.t.On || !trace.SpanContextFromContext(r.Context()).IsValid() {
		// A span is made only as a child of the request's span.
		return m.serve(w, r, next)
	}
	ctx, span := m.tel.t.Tracer.Start(r.Context(), "redisware.session", m.tel.spanStart...)
	if !span.IsRecording() {
		defer span.End()
		return m.serve(w, r, next)
	}
	rej := m.serve(w, r.WithContext(ctx), next)
	outcome := "served"
	if rej != nil {
		outcome = "unavailable"
	}
	span.SetAttributes(telemetry.Outcome.String(outcome))
	span.End()
	return rej
}

func (m *Manager) serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	s, err := m.Load(r)
	if err != nil {
		return unavailable(err)
	}
	sw := &writer{ResponseWriter: w, m: m, s: s, r: r}
	next.ServeHTTP(sw, r.WithContext(NewContext(r.Context(), s)))
	if !sw.committed {
		if sw.commit() {
			sw.ResponseWriter.WriteHeader(http.StatusOK)
		}
		return nil
	}
	if sw.failed {
		return nil
	}
	s.mu.Lock()
	late := s.dirty()
	s.mu.Unlock()
	if late {
		// The response has started: the cookie can no longer change, but
		// values can still be kept, and a destroyed session still dies.
		ctx := context.WithoutCancel(r.Context())
		s.mu.Lock()
		if s.renew && !s.destroy {
			m.set.Logger.LogAttrs(ctx, slog.LevelError, "session: Renew or Login after the response started is ignored; call it before writing")
			s.renew, s.login = false, nil
		}
		s.mu.Unlock()
		if _, err := m.save(ctx, s, r); err != nil {
			m.set.Logger.LogAttrs(ctx, slog.LevelWarn, "session: changes made after the response started were not saved", slog.Any("error", err))
		}
	}
	return nil
}

// writer saves the session when the response starts.
type writer struct {
	http.ResponseWriter
	m         *Manager
	s         *Session
	r         *http.Request
	committed bool
	failed    bool
}

// commit saves the session and sets the cookie; on failure it writes the
// manager's 503 rejection and reports false.
func (w *writer) commit() bool {
	if w.committed {
		return !w.failed
	}
	w.committed = true
	// The client may have gone; what the request did is kept regardless.
	cookie, err := w.m.save(context.WithoutCancel(w.r.Context()), w.s, w.r)
	if err != nil {
		w.failed = true
		w.m.Reject(w.ResponseWriter, w.r, unavailable(err))
		return false
	}
	if cookie != nil {
		h := w.Header()
		h.Add("Set-Cookie", cookie.String())
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", `no-cache="Set-Cookie"`)
		}
	}
	if w.s.stored || cookie != nil {
		h := w.Header()
		if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Cookie") {
			h.Add("Vary", "Cookie")
		}
	}
	return true
}

func (w *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return len(p), nil // the handler's body is replaced by the error
	}
	return w.ResponseWriter.Write(p)
}

func (w *writer) Flush() {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
	if !w.failed {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// save writes what the request did to the session and returns the cookie
// to send, if any.
func (m *Manager) save(ctx context.Context, s *Session, r *http.Request) (*http.Cookie, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.destroy:
		if s.stored {
			ks := []string{m.key(s.ref)}
			if s.ref.tag != "" {
				ks = append(ks, m.index(s.ref.tag))
			}
			v, err := m.run(ctx, m.tel.ops["destroy"], destroyScript, ks, s.ref.hash)
			if err != nil {
				return nil, m.fail(ctx, "destroy", err)
			}
			if n, _ := v.(int64); n == 1 {
				m.tel.count(ctx, "destroyed", 1)
			}
		}
		s.stored, s.destroy = false, false
		s.clearChanges()
		s.values = map[string]string{}
		return m.expiredCookie(), nil
	case s.renew:
		return m.renew(ctx, s, r)
	case !s.stored && len(s.set) > 0:
		c, err := m.create(ctx, s, r, nil, "")
		if err == nil {
			m.tel.count(ctx, "created", 1)
		}
		return c, err
	case s.stored && (len(s.set) > 0 || len(s.del) > 0):
		args := []interface{}{len(s.set)}
		for k := range s.set {
			args = append(args, "v:"+k, s.values[k])
		}
		for k := range s.del {
			args = append(args, "v:"+k)
		}
		v, err := m.run(ctx, m.tel.ops["save"], saveScript, []string{m.key(s.ref)}, args...)
		if err != nil {
			return nil, m.fail(ctx, "save", err)
		}
		s.clearChanges()
		if n, _ := v.(int64); n == 0 {
			// destroyed by another request meanwhile: it stays destroyed
			s.stored = false
			return m.expiredCookie(), nil
		}
		return m.liveCookie(s), nil
	case s.stored:
		return m.liveCookie(s), nil
	case s.sentBad:
		return m.expiredCookie(), nil
	}
	return nil, nil
}

func (s *Session) clearChanges() {
	s.set = map[string]bool{}
	s.del = map[string]bool{}
}

// renew moves the session to a new ID (and, on Login, to its user): the
// old one is read and deleted in one step, so it is dead before the new one
// exists and no request can write to it in between.
func (m *Manager) renew(ctx context.Context, s *Session, r *http.Request) (*http.Cookie, error) {
	var old []interface{}
	if s.stored {
		ks := []string{m.key(s.ref)}
		if s.ref.tag != "" {
			ks = append(ks, m.index(s.ref.tag))
		}
		v, err := m.run(ctx, m.tel.ops["renew"], takeScript, ks, s.ref.hash)
		if err != nil {
			return nil, m.fail(ctx, "renew", err)
		}
		old, _ = v.([]interface{})
		s.stored = false
	}
	// What the store held (values other requests set meanwhile included),
	// overlaid with this request's changes.
	fields := map[string]string{}
	for i := 0; i+1 < len(old); i += 2 {
		f, _ := old[i].(string)
		v, _ := old[i+1].(string)
		fields[f] = v
	}
	for k := range s.del {
		delete(fields, "v:"+k)
	}
	for k := range s.set {
		fields["v:"+k] = s.values[k]
	}
	deadline := ""
	if s.login == nil {
		// a plain renewal keeps the absolute lifetime
		deadline = fields[fDeadline]
	} else {
		delete(fields, fCreated)
	}
	delete(fields, fDeadline)
	delete(fields, fSeen)
	user := s.user
	if s.login != nil {
		user = *s.login
	}
	c, err := m.create(ctx, s, r, fields, deadline, user)
	if err == nil {
		if len(old) > 0 {
			m.tel.count(ctx, "renewed", 1)
		} else {
			m.tel.count(ctx, "created", 1)
		}
	}
	return c, err
}

// create stores s under a fresh ID, with fields (nil: the request's
// values) and the given deadline ("" for a full Lifetime).
func (m *Manager) create(ctx context.Context, s *Session, r *http.Request, fields map[string]string, deadline string, user ...string) (*http.Cookie, error) {
	if fields == nil {
		fields = map[string]string{}
		for k, v := range s.values {
			fields["v:"+k] = v
		}
	}
	u := s.user
	if len(user) > 0 {
		u = user[0]
	}
	agent := r.UserAgent()
	if len(agent) > maxAgent {
		agent = agent[:maxAgent]
	}
	fields[fAgent] = agent
	if addr, err := m.set.IP.ClientIP(r); err == nil {
		fields[fAddr] = addr.String()
	}
	id := newID()
	rf := ref{hash: hashID(id)}
	ks := []string{}
	base := ""
	if u != "" {
		rf.tag = userTag(u)
		fields[fUser] = u
		base = m.userBase(rf.tag)
		ks = append(ks, m.key(rf), m.index(rf.tag))
	} else {
		delete(fields, fUser)
		ks = append(ks, m.key(rf))
	}
	args := []interface{}{m.now(), m.idle.Milliseconds(), deadline, m.lifetime.Milliseconds(), base, rf.hash, m.maxPerUser}
	for f, v := range fields {
		args = append(args, f, v)
	}
	v, err := m.run(ctx, m.tel.ops["create"], createScript, ks, args...)
	if err != nil {
		return nil, m.fail(ctx, "create", err)
	}
	reply, _ := v.([]interface{})
	if len(reply) != 3 {
		return nil, m.fail(ctx, "create", fmt.Errorf("unexpected reply %v", v))
	}
	now, _ := reply[1].(int64)
	dl, _ := reply[2].(int64)
	s.id, s.ref, s.stored, s.user = id, rf, true, u
	s.values = map[string]string{}
	for f, v := range fields {
		if strings.HasPrefix(f, "v:") {
			s.values[f[2:]] = v
		}
	}
	if c, ok := fields[fCreated]; ok {
		s.created = msTime(c)
	} else {
		s.created = time.UnixMilli(now)
	}
	s.deadline = time.UnixMilli(dl)
	s.renew, s.login = false, nil
	s.clearChanges()
	return m.cookieFor(s, time.UnixMilli(now)), nil
}

// liveCookie returns the cookie of a stored session, refreshed so its
// Max-Age follows the sliding idle expiry; nil when nothing would change.
func (m *Manager) liveCookie(s *Session) *http.Cookie {
	if m.cookie.SessionOnly || m.idle == 0 {
		return nil // the cookie set at creation still says the truth
	}
	now := time.Now()
	if m.clock != nil {
		now = m.clock()
	}
	return m.cookieFor(s, now)
}

func (m *Manager) cookieFor(s *Session, now time.Time) *http.Cookie {
	c := m.baseCookie()
	c.Value = cookieValue(s.id, s.ref)
	if !m.cookie.SessionOnly {
		left := s.deadline.Sub(now)
		if m.idle > 0 && m.idle < left {
			left = m.idle
		}
		c.MaxAge = max(int(left/time.Second), 1)
	}
	return c
}

func (m *Manager) expiredCookie() *http.Cookie {
	c := m.baseCookie()
	c.MaxAge = -1 // "Max-Age=0": delete it now
	return c
}

func (m *Manager) baseCookie() *http.Cookie {
	return &http.Cookie{
		Name:        m.cookie.Name,
		Path:        m.cookie.Path,
		Domain:      m.cookie.Domain,
		HttpOnly:    true,
		Secure:      !m.cookie.Insecure,
		SameSite:    m.cookie.SameSite,
		Partitioned: m.cookie.Partitioned,
	}
}
