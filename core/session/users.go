package session

import (
	"context"
	"strconv"
	"time"
)

// Info describes one of a user's sessions.
type Info struct {
	// Ref identifies the session for Revoke; compare it with Session.Ref
	// to mark the current one. It is a hash, not the session ID.
	Ref string `json:"ref"`
	// Created is when the session was created or last logged in.
	Created time.Time `json:"created"`
	// LastSeen is the time of its latest request that used it, to the
	// second: reads within a second of the last recorded one are not
	// recorded (see the package documentation on the idle expiry).
	LastSeen time.Time `json:"last_seen"`
	// Deadline is when it ends at the latest: the end of its Lifetime, or
	// the earlier deadline Session.SetDeadline gave it.
	Deadline time.Time `json:"deadline"`
	// UserAgent is the User-Agent of the request that created it.
	UserAgent string `json:"user_agent"`
	// Addr is the client address of that request.
	Addr string `json:"addr"`
}

// ListSessions returns the live sessions bound to user, oldest first, in
// one round trip.
func (m *Manager) ListSessions(ctx context.Context, user string) ([]Info, error) {
	tag, err := m.userTag(ctx, user)
	if err != nil {
		return nil, err
	}
	v, err := m.run(ctx, m.tel.ops["list"], listScript, []string{m.index(tag)}, m.userBase(tag))
	if err != nil {
		return nil, m.fail(ctx, "list", err)
	}
	raw, _ := v.([]interface{})
	var out []Info
	for i := 0; i+5 < len(raw); i += 6 {
		str := func(j int) string { s, _ := raw[i+j].(string); return s }
		ms := func(j int) time.Time { n, _ := strconv.ParseInt(str(j), 10, 64); return time.UnixMilli(n) }
		out = append(out, Info{Ref: str(0), Created: ms(1), LastSeen: ms(2), Deadline: ms(3), UserAgent: str(4), Addr: str(5)})
	}
	return out, nil
}

// Revoke ends one of user's sessions, named by its Info.Ref, and reports
// whether it was alive.
func (m *Manager) Revoke(ctx context.Context, user, sessionRef string) (bool, error) {
	if len(sessionRef) != 43 || !b64(sessionRef) {
		return false, nil
	}
	tag, err := m.userTag(ctx, user)
	if err != nil {
		return false, err
	}
	rf := ref{tag: tag, hash: sessionRef}
	v, err := m.run(ctx, m.tel.ops["revoke"], destroyScript, []string{m.key(rf), m.index(rf.tag)}, rf.hash)
	if err != nil {
		return false, m.fail(ctx, "revoke", err)
	}
	n, _ := v.(int64)
	m.tel.count(ctx, "revoked", int(n))
	return n == 1, nil
}

// RevokeAll ends every session of user ("log out everywhere") atomically,
// in one round trip, on a Cluster too: all of a user's sessions share the
// user's hash tag. It returns how many were alive.
func (m *Manager) RevokeAll(ctx context.Context, user string) (int, error) {
	tag, err := m.userTag(ctx, user)
	if err != nil {
		return 0, err
	}
	v, err := m.run(ctx, m.tel.ops["revoke_all"], revokeAllScript, []string{m.index(tag)}, m.userBase(tag))
	if err != nil {
		return 0, m.fail(ctx, "revoke all", err)
	}
	n, _ := v.(int64)
	m.tel.count(ctx, "revoked", int(n))
	return int(n), nil
}
