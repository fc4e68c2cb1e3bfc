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
	fRemember = "_p" // RememberMe's choice: "1" persistent, "0" not; absent: the default
	fKey      = "_k" // the fingerprint of the secret a session bound to a user was bound under
)

// maxAgent bounds the stored User-Agent.
const maxAgent = 256

// start returns the session of r, not loaded: only its cookie is read.
func (m *Manager) start(r *http.Request) *Session {
	s := newSession(m, r.Context())
	s.state = loaded // nothing to load, unless the cookie names a session
	c, err := r.Cookie(m.cookie.Name)
	if err != nil || c.Value == "" {
		return s
	}
	id, rf, ok := parseCookie(c.Value)
	if !ok {
		s.sentBad = true // cleared if the request uses its session
		return s
	}
	s.cookie, s.sent, s.id, s.ref, s.state = c.Value, rf, id, rf, unloaded
	return s
}

// incrResult is what load.lua says of the increment it was asked for.
type incrResult struct {
	status int // incrNone, incrDone or incrNotInteger
	n      int64
}

const (
	incrNone       = iota // none asked, or no live session to add to
	incrDone              // added: n is the new value
	incrNotInteger        // the value is not an integer: nothing added
)

// load reads s from Redis (and adds delta to the value under incrKey, when
// not ""), in one round trip, and merges this request's changes over what
// it read. The caller holds s.loadMu, and s is unloaded. A failure marks s
// failed and returns the error, wrapping ErrUnavailable.
func (m *Manager) load(ctx context.Context, s *Session, incrKey string, delta int64) (incrResult, error) {
	rf := s.sent // set once, before the handler ran
	fp, err := m.fingerprintOf(ctx, rf)
	if err != nil {
		return incrResult{}, m.loadFailed(ctx, s, err)
	}
	args := []interface{}{m.now(), m.idle.Milliseconds(), fp}
	if incrKey != "" {
		args = append(args, "v:"+incrKey, delta)
	}
	v, err := m.run(ctx, m.tel.ops["load"], loadScript, []string{m.key(rf), m.marker(rf)}, args...)
	if err != nil {
		return incrResult{}, m.loadFailed(ctx, s, m.fail(ctx, "load", err))
	}
	reply, _ := v.([]interface{})
	n := len(reply) - 2 // the fields and their values, then now and incr
	if n < 0 || n%2 != 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.state, s.stored = loaded, false
		if status, _ := v.(int64); status == 2 {
			s.renewed = true
		} else {
			s.sentBad = true
		}
		s.merge(nil)
		return incrResult{}, nil
	}
	now, _ := reply[n].(int64)
	var res incrResult
	switch incr := reply[n+1].(type) {
	case []interface{}:
		res.status = incrDone
		res.n, _ = incr[0].(int64)
	case int64:
		if incr < 0 {
			res.status = incrNotInteger
		}
	}
	vals := map[string]string{}
	var created, deadline, seen int64
	var user string
	var rem remember
	keyed := false
	for i := 0; i < n; i += 2 {
		f, _ := reply[i].(string)
		val, _ := reply[i+1].(string)
		switch {
		case strings.HasPrefix(f, "v:"):
			vals[f[2:]] = val
		case f == fCreated:
			created = msInt(val)
		case f == fDeadline:
			deadline = msInt(val)
		case f == fSeen:
			seen = msInt(val)
		case f == fUser:
			user = val
		case f == fRemember:
			rem = parseRemember(val)
		case f == fKey:
			keyed = true
		}
	}
	live := true
	if user != "" {
		// A session bound to a user lives only under the user's tag made
		// with the current secret: changing the secret ends it. (load.lua
		// checked the secret's fingerprint already, before writing.)
		tag, err := m.userTag(ctx, user)
		if err != nil {
			return incrResult{}, m.loadFailed(ctx, s, err)
		}
		live = tag == rf.tag
	} else {
		live = rf.tag == ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = loaded
	if !live {
		s.stored, s.sentBad = false, true
		s.merge(nil)
		return incrResult{}, nil
	}
	s.stored, s.seen, s.keyed = true, true, keyed
	s.created, s.deadline, s.user, s.remember = time.UnixMilli(created), time.UnixMilli(deadline), user, rem
	s.merge(vals)
	if res.status == incrDone && !s.set[incrKey] {
		s.values[incrKey] = strconv.FormatInt(res.n, 10)
	}
	if m.refreshDue(seen, now, m.persistent(rem)) {
		s.refresh = time.UnixMilli(now)
	}
	return res, nil
}

// fingerprintOf returns the secret's fingerprint a script checks before it
// writes to the session rf: "" for a session bound to nobody.
func (m *Manager) fingerprintOf(ctx context.Context, rf ref) (string, error) {
	if rf.tag == "" {
		return "", nil
	}
	return m.fingerprint(ctx)
}

// merge makes stored (what Redis held; nil for nothing) overlaid with the
// request's changes the session's values. A deletion of a value the store
// does not hold is dropped. The caller holds s.mu.
func (s *Session) merge(stored map[string]string) {
	if stored == nil {
		stored = map[string]string{}
	}
	for k := range s.set {
		stored[k] = s.values[k]
	}
	for k := range s.del {
		if _, ok := stored[k]; ok {
			delete(stored, k)
		} else {
			delete(s.del, k)
		}
	}
	s.values = stored
}

// loadFailed marks s failed with err: reads see no values, and nothing is
// written.
func (m *Manager) loadFailed(ctx context.Context, s *Session, err error) error {
	if m.tel.t.On {
		m.tel.loadFailures.Add(ctx, 1, m.tel.plain)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.err = failed, err
	s.values = map[string]string{}
	return err
}

// refreshDue reports whether a load at now (ms), after the previous one at
// prev, should re-send the cookie so its Max-Age keeps up with the sliding
// idle expiry: when the load moved into a new tenth of IdleTimeout since
// the previous one. Never for a browser-session cookie (not persistent),
// which has no Max-Age, nor without idle expiry, where the cookie set at
// creation stays true.
func (m *Manager) refreshDue(prev, now int64, persistent bool) bool {
	if !persistent || m.idle == 0 {
		return false
	}
	step := max(m.idle.Milliseconds()/10, 1)
	return now/step != prev/step
}

// persistent reports whether a session whose RememberMe choice is r gets a
// persistent cookie, with Max-Age.
func (m *Manager) persistent(r remember) bool {
	switch r {
	case rememberYes:
		return true
	case rememberNo:
		return false
	}
	return !m.cookie.SessionOnly
}

func msInt(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func msTime(v string) time.Time { return time.UnixMilli(msInt(v)) }

// ServeHTTP is Serve: the session middleware never rejects a request
// before its handler runs.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rej := m.Serve(w, r, next); rej != nil {
		m.Reject(w, r, rej)
	}
}

// Serve runs next with the request's session in its context, and a writer
// that writes what the handler changed (and sets the cookie, when it
// changed) just before the response starts, then writes any change made
// after that. It calls no Redis itself: the session is loaded by the first
// method that needs it (see Session), so a request whose handler never
// touches its session costs no Redis call, and answers normally while
// Redis is down.
//
// When the store fails for a request that uses its session (loading it, or
// writing its changes just before the response starts), the client gets
// the 503 rejection (its Err wraps ErrUnavailable), written by Reject in
// place of the handler's response: the handler's header fields are
// dropped, those set before Serve kept. It never believes a change was kept
// that was not, nor sees a response built on an empty session. Serve itself
// never returns a rejection.
func (m *Manager) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) *core.Rejection {
	if !m.tel.t.On || !trace.SpanContextFromContext(r.Context()).IsValid() {
		// A span is made only as a child of the request's span.
		m.serve(w, r, next)
		return nil
	}
	ctx, span := m.tel.t.Tracer.Start(r.Context(), "redisware.session", m.tel.spanStart...)
	if !span.IsRecording() {
		defer span.End()
		m.serve(w, r, next)
		return nil
	}
	outcome := "served"
	if m.serve(w, r.WithContext(ctx), next) {
		outcome = "unavailable"
	}
	span.SetAttributes(telemetry.Outcome.String(outcome))
	span.End()
	return nil
}

// serve reports whether the response was replaced by the 503.
func (m *Manager) serve(w http.ResponseWriter, r *http.Request, next http.Handler) (unavailable bool) {
	s := m.start(r)
	sw := &writer{ResponseWriter: w, m: m, s: s, r: r, before: w.Header().Clone()}
	next.ServeHTTP(sw, r.WithContext(NewContext(r.Context(), s)))
	if !sw.committed {
		if sw.commit() {
			sw.ResponseWriter.WriteHeader(http.StatusOK)
		}
		return sw.failed
	}
	if sw.failed {
		return true
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
		if s.setRemember != rememberDefault && !s.destroy {
			// Kept, it would disagree with the cookie the browser holds.
			m.set.Logger.LogAttrs(ctx, slog.LevelError, "session: RememberMe after the response started is ignored; call it before writing")
			s.setRemember = rememberDefault
		}
		s.mu.Unlock()
		if _, err := m.finish(ctx, s, r); err != nil {
			m.set.Logger.LogAttrs(ctx, slog.LevelWarn, "session: changes made after the response started were not saved", slog.Any("error", err))
		}
	}
	return false
}

// writer saves the session when the response starts.
type writer struct {
	http.ResponseWriter
	m         *Manager
	s         *Session
	r         *http.Request
	before    http.Header // the header fields set before the handler ran
	committed bool
	failed    bool
}

// commit saves the session and sets the cookie; on failure it writes the
// manager's 503 rejection in place of the handler's response and reports
// false.
func (w *writer) commit() bool {
	if w.committed {
		return !w.failed
	}
	w.committed = true
	// The client may have gone; what the request did is kept regardless.
	cookie, err := w.m.finish(context.WithoutCancel(w.r.Context()), w.s, w.r)
	h := w.Header()
	if err != nil {
		w.failed = true
		for k := range h {
			delete(h, k)
		}
		for k, vs := range w.before {
			h[k] = vs
		}
		w.m.Reject(w.ResponseWriter, w.r, unavailable(err))
		return false
	}
	if cookie != nil {
		h.Add("Set-Cookie", cookie.String())
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", `no-cache="Set-Cookie"`)
		}
	}
	w.s.mu.Lock()
	used := w.s.used
	w.s.mu.Unlock()
	if used || cookie != nil {
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

// finish writes what the request did to the session, and returns the
// cookie to send, if any. A session changed but not loaded is written
// without a load (see save). The error, wrapping ErrUnavailable, is the
// load's when the session failed to load.
func (m *Manager) finish(ctx context.Context, s *Session, r *http.Request) (*http.Cookie, error) {
	s.mu.Lock()
	st, err := s.state, s.err
	s.mu.Unlock()
	if st == failed {
		return nil, err
	}
	if st == unloaded {
		// No load may run while what it would merge is being written.
		s.loadMu.Lock()
		defer s.loadMu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.state == failed:
		return nil, s.err
	case s.destroy:
		return m.destroy(ctx, s)
	case s.renew:
		return m.renew(ctx, s, r)
	}
	return m.write(ctx, s, r)
}

// destroy ends the session the request carried, loaded or not, and returns
// the cookie that clears it. The caller holds s.mu.
func (m *Manager) destroy(ctx context.Context, s *Session) (*http.Cookie, error) {
	if s.stored || s.state == unloaded {
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
	s.state, s.stored, s.destroy, s.renew, s.login = loaded, false, false, false, nil
	s.clearChanges()
	s.values = map[string]string{}
	return m.expiredCookie(), nil
}

// write saves the values the request changed, and returns the cookie to
// send: a new one when a session was created, the same one when its
// Max-Age must move forward (see refreshDue), one that clears it when the
// session the request used is gone, or none. The caller holds s.mu.
func (m *Manager) write(ctx context.Context, s *Session, r *http.Request) (*http.Cookie, error) {
	if s.stored || s.state == unloaded {
		return m.save(ctx, s, r)
	}
	switch {
	case s.renewed:
		// The ID was renewed by another request moments ago, whose
		// response carries the new cookie: no session here, and
		// nothing that would replace that cookie in the browser.
		s.clearChanges()
		return nil, nil
	case s.seen:
		// The session the handler saw ended while it ran (logout,
		// revocation, the per-user cap): it stays ended.
		s.clearChanges()
		s.values = map[string]string{}
		return m.expiredCookie(), nil
	case len(s.set) > 0:
		// A guest, or a cookie that named no live session: a new
		// session with this request's values, bound to nobody.
		fields := map[string]string{}
		for k := range s.set {
			fields["v:"+k] = s.values[k]
		}
		if s.setRemember != rememberDefault {
			fields[fRemember] = s.setRemember.field()
		}
		c, err := m.create(ctx, s, r, fields, "", "")
		if err == nil && s.stored {
			m.tel.count(ctx, "created", 1)
		}
		return c, err
	}
	s.clearChanges()
	if s.sentBad && s.used {
		return m.expiredCookie(), nil
	}
	return nil, nil
}

// save writes what the request changed to the stored session with
// save.lua, and returns the cookie to send. A session the request changed
// without loading it is written all the same, in one round trip: save.lua
// makes the checks a load would (deadline, idle, the renewal marker, the
// secret the session was bound under), writes only to a session alive, and
// returns what the cookie depends on (the previous use, the deadline, the
// RememberMe choice); the session then stays unloaded, and a later read
// loads it. The caller holds s.mu.
func (m *Manager) save(ctx context.Context, s *Session, r *http.Request) (*http.Cookie, error) {
	unread := s.state == unloaded
	choose := s.setRemember != rememberDefault && (unread || s.setRemember != s.remember)
	shorten := !s.until.IsZero() && (unread || s.until.Before(s.deadline))
	if len(s.set) == 0 && len(s.del) == 0 && !choose && !shorten {
		s.clearChanges()
		if s.refresh.IsZero() {
			return nil, nil
		}
		return m.cookieFor(s, s.refresh), nil
	}
	fp, err := m.fingerprintOf(ctx, s.ref)
	if err != nil {
		return nil, err
	}
	var until interface{} = ""
	if shorten {
		until = s.until.UnixMilli()
	}
	// A session bound before fingerprints were kept gets its own, once a
	// load has checked its user tag.
	upgrade := fp != "" && !unread && !s.keyed
	n := len(s.set)
	if choose {
		n++
	}
	if upgrade {
		n++
	}
	var idle interface{} = "" // loaded: load.lua checked it and slid its idle expiry
	if unread {
		idle = m.idle.Milliseconds()
	}
	args := make([]interface{}, 0, 5+2*n+len(s.del))
	args = append(args, m.now(), idle, fp, until, n)
	for k := range s.set {
		args = append(args, "v:"+k, s.values[k])
	}
	if choose {
		args = append(args, fRemember, s.setRemember.field())
	}
	if upgrade {
		args = append(args, fKey, fp)
	}
	for k := range s.del {
		args = append(args, "v:"+k)
	}
	v, err := m.run(ctx, m.tel.ops["save"], saveScript, []string{m.key(s.ref), m.marker(s.ref)}, args...)
	if err != nil {
		return nil, m.fail(ctx, "save", err)
	}
	reply, _ := v.([]interface{})
	var status int64
	if len(reply) > 0 {
		status, _ = reply[0].(int64)
	}
	switch {
	case status == 2: // renewed by another request, before or while this one ran
		s.state, s.stored, s.renewed = loaded, false, true
		s.merge(nil)
		s.clearChanges()
		return nil, nil
	case status == 1 && len(reply) == 6:
	case unread && status == 4:
		// Bound before fingerprints were kept: load it, which checks its
		// user tag, then save. The caller holds s.loadMu (see finish).
		s.mu.Unlock()
		_, err := m.load(ctx, s, "", 0)
		s.mu.Lock()
		if err != nil {
			return nil, err
		}
		return m.write(ctx, s, r)
	case unread && status == 0:
		// As a load would have found: the cookie names no live session,
		// and the request's values go to a new one (see write).
		s.state, s.stored, s.sentBad = loaded, false, true
		s.merge(nil)
		return m.write(ctx, s, r)
	default:
		// Ended by another request meanwhile, or by this deadline: it
		// stays ended.
		s.state, s.stored = loaded, false
		s.clearChanges()
		s.values = map[string]string{}
		return m.expiredCookie(), nil
	}
	now, _ := reply[1].(int64)
	before, _ := reply[2].(int64)
	deadline, _ := reply[3].(int64)
	if unread {
		// What a load would have told: the cookie's kind and Max-Age
		// before this write, and whether the idle expiry moved into a
		// new tenth of IdleTimeout.
		seen, _ := reply[4].(int64)
		p, _ := reply[5].(string)
		s.stored, s.seen = true, true
		s.remember, s.deadline = parseRemember(p), time.UnixMilli(before)
		if m.refreshDue(seen, now, m.persistent(s.remember)) {
			s.refresh = time.UnixMilli(now)
		}
	}
	chosen := s.setRemember
	s.clearChanges()
	was := m.persistent(s.remember)
	if choose {
		s.remember = chosen
	}
	moved := deadline != s.deadline.UnixMilli()
	s.deadline = time.UnixMilli(deadline)
	// Re-sent when what the cookie carries changed: its kind, or its
	// Max-Age, which follows the deadline and the idle expiry.
	if is := m.persistent(s.remember); is != was || (is && (moved || !s.refresh.IsZero())) {
		return m.cookieFor(s, time.UnixMilli(now)), nil
	}
	return nil, nil
}

// clearChanges forgets what the request recorded to write. The caller
// holds s.mu.
func (s *Session) clearChanges() {
	s.set = map[string]bool{}
	s.del = map[string]bool{}
	s.setRemember, s.until = rememberDefault, time.Time{}
}

// renew moves the session to a new ID (and, on Login, to its user): the
// old one is read and deleted in one step, so it is dead before the new one
// exists and no request can write to it in between. A session that is no
// longer alive is not renewed; only Login then creates a session, for its
// own user. The caller holds s.mu.
func (m *Manager) renew(ctx context.Context, s *Session, r *http.Request) (*http.Cookie, error) {
	// The secret first, when a user tag is needed: once the old session is
	// taken, nothing may fail before the new one is made.
	if s.login != nil || s.ref.tag != "" {
		if _, err := m.secret(ctx); err != nil {
			return nil, err
		}
	}
	var old []interface{}
	taken := false
	if s.stored || s.state == unloaded {
		ks := []string{m.key(s.ref), m.marker(s.ref)}
		if s.ref.tag != "" {
			ks = append(ks, m.index(s.ref.tag))
		}
		v, err := m.run(ctx, m.tel.ops["renew"], takeScript, ks, s.ref.hash, m.now(), m.idle.Milliseconds(), renewedMarkerTTL.Milliseconds())
		if err != nil {
			return nil, m.fail(ctx, "renew", err)
		}
		reply, _ := v.([]interface{})
		var status int64
		if len(reply) > 0 {
			status, _ = reply[0].(int64)
		}
		s.state, s.stored = loaded, false
		switch status {
		case 1:
			old, taken = reply[1:], true
		case 2:
			s.renewed = true
		default:
			s.sentBad = true
		}
	}
	// What the store held (values other requests set meanwhile included),
	// overlaid with this request's changes.
	fields := map[string]string{}
	for i := 0; i+1 < len(old); i += 2 {
		f, _ := old[i].(string)
		v, _ := old[i+1].(string)
		fields[f] = v
	}
	user := fields[fUser]
	if taken {
		// As on load: a session bound under another secret's tag is dead.
		tag := ""
		if user != "" {
			var err error
			if tag, err = m.userTag(ctx, user); err != nil {
				return nil, err
			}
		}
		if tag != s.ref.tag {
			taken, fields, user, s.sentBad = false, map[string]string{}, "", true
		}
	}
	if s.login == nil && !taken {
		// Nothing alive to renew: the request goes on as one whose
		// session is gone (see write).
		s.renew = false
		return m.write(ctx, s, r)
	}
	for k := range s.del {
		delete(fields, "v:"+k)
	}
	for k := range s.set {
		fields["v:"+k] = s.values[k]
	}
	if s.setRemember != rememberDefault {
		fields[fRemember] = s.setRemember.field()
	}
	deadline := ""
	if s.login == nil {
		// a plain renewal keeps the absolute lifetime
		deadline = fields[fDeadline]
	} else {
		user = *s.login
		delete(fields, fCreated)
	}
	delete(fields, fDeadline)
	delete(fields, fSeen)
	c, err := m.create(ctx, s, r, fields, deadline, user)
	if err == nil && s.stored {
		if taken {
			m.tel.count(ctx, "renewed", 1)
		} else {
			m.tel.count(ctx, "created", 1)
		}
	}
	return c, err
}

// create stores s under a fresh ID, with fields, the given deadline (""
// for a full Lifetime), brought forward to the request's SetDeadline, and
// bound to user ("" for nobody). When that deadline has passed already, it
// creates nothing, and s is left not stored, with the cookie the request
// carried cleared. The caller holds s.mu.
func (m *Manager) create(ctx context.Context, s *Session, r *http.Request, fields map[string]string, deadline, user string) (*http.Cookie, error) {
	// The user agent and address are for ListSessions, which lists the
	// sessions of a user: a session bound to nobody has no use for them,
	// and every load would read them.
	delete(fields, fAgent)
	delete(fields, fAddr)
	if user != "" {
		agent := r.UserAgent()
		if len(agent) > maxAgent {
			agent = agent[:maxAgent]
		}
		fields[fAgent] = agent
		if addr, err := m.set.IP.ClientIP(r); err == nil {
			fields[fAddr] = addr.String()
		}
	}
	id := newID()
	rf := ref{hash: hashID(id)}
	ks := []string{}
	base := ""
	if user != "" {
		tag, err := m.userTag(ctx, user)
		if err != nil {
			return nil, err
		}
		fp, err := m.fingerprint(ctx)
		if err != nil {
			return nil, err
		}
		rf.tag = tag
		fields[fUser], fields[fKey] = user, fp
		base = m.userBase(rf.tag)
		ks = append(ks, m.key(rf), m.index(rf.tag))
	} else {
		delete(fields, fUser)
		delete(fields, fKey)
		ks = append(ks, m.key(rf))
	}
	var until interface{} = ""
	if !s.until.IsZero() {
		until = s.until.UnixMilli()
	}
	args := []interface{}{m.now(), m.idle.Milliseconds(), deadline, m.lifetime.Milliseconds(), base, rf.hash, m.maxPerUser, until}
	for f, v := range fields {
		args = append(args, f, v)
	}
	v, err := m.run(ctx, m.tel.ops["create"], createScript, ks, args...)
	if err != nil {
		return nil, m.fail(ctx, "create", err)
	}
	reply, _ := v.([]interface{})
	if len(reply) == 2 && reply[0] == int64(2) {
		// Its deadline has passed: no session, and none to keep.
		s.state, s.stored, s.user, s.refresh = loaded, false, "", time.Time{}
		s.created, s.deadline, s.remember = time.Time{}, time.Time{}, rememberDefault
		s.values = map[string]string{}
		s.renew, s.login = false, nil
		s.clearChanges()
		if s.cookie == "" {
			return nil, nil
		}
		return m.expiredCookie(), nil
	}
	if len(reply) != 3 {
		return nil, m.fail(ctx, "create", fmt.Errorf("unexpected reply %v", v))
	}
	now, _ := reply[1].(int64)
	dl, _ := reply[2].(int64)
	s.id, s.ref, s.stored, s.user, s.keyed = id, rf, true, user, user != ""
	s.state, s.renewed, s.sentBad, s.refresh = loaded, false, false, time.Time{}
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
	s.remember = parseRemember(fields[fRemember])
	s.renew, s.login = false, nil
	s.clearChanges()
	return m.cookieFor(s, time.UnixMilli(now)), nil
}

// cookieFor returns the cookie of s: a persistent one (see RememberMe) has
// a Max-Age counted from now, the earlier of the idle and the absolute
// expiry; a browser-session cookie has none.
func (m *Manager) cookieFor(s *Session, now time.Time) *http.Cookie {
	c := m.baseCookie()
	c.Value = cookieValue(s.id, s.ref)
	if m.persistent(s.remember) {
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
