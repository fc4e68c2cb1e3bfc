package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// The user tag starts the cookie of a session bound to a user and names the
// user's slot in Redis. It is HMAC-SHA256(secret, user), truncated, so a
// cookie seen in a log cannot be matched to a user by guessing names, and
// every instance that shares the secret derives the same tag (ListSessions,
// Revoke, RevokeAll and MaxSessionsPerUser see the sessions made anywhere).
//
// The secret is Settings.Secret, or else one kept in Redis under
// <prefix>sess:{secret}, created once by whichever instance asks first
// (secret.lua) and read by the others. New does not fetch it: the first
// call that needs a tag does, once, and the calls made meanwhile wait for
// that one fetch; a failed fetch is tried again by the next call. When a
// call needs the secret more than secretRecheck after it was last
// confirmed, an instance checks again, in the background, that Redis still
// holds it: secret.lua with its own copy as the candidate puts it back if
// the key was lost (FLUSHALL, an allkeys-* eviction policy), and the
// instance adopts whatever Redis holds, so the fleet keeps agreeing.

// secretRecheck is how often an instance checks, in the background, that
// the secret it uses is still the one Redis holds.
const secretRecheck = 5 * time.Minute

// secretBytes is the size of a secret created in Redis.
const secretBytes = 32

// secretSource holds the secret of a Manager.
type secretSource struct {
	fixed []byte // Settings.Secret; nil when it is kept in Redis

	mu       sync.Mutex
	key      []byte        // the secret from Redis; nil until fetched
	fetched  time.Time     // when key was last confirmed
	flight   *secretFlight // the fetch in progress, if any
	checking bool          // a background recheck is running
}

type secretFlight struct {
	done chan struct{}
	key  []byte
	err  error
}

// secret returns the key of user tags, fetching it from Redis the first
// time when Settings.Secret is empty.
func (m *Manager) secret(ctx context.Context) ([]byte, error) {
	src := m.secretSrc
	if src.fixed != nil {
		return src.fixed, nil
	}
	src.mu.Lock()
	if src.key != nil {
		key := src.key
		if !src.checking && time.Since(src.fetched) > secretRecheck {
			src.checking = true
			go m.recheckSecret(context.WithoutCancel(ctx), key)
		}
		src.mu.Unlock()
		return key, nil
	}
	f := src.flight
	if f == nil {
		f = &secretFlight{done: make(chan struct{})}
		src.flight = f
		src.mu.Unlock()
		// The fetch outlives the request that started it, under its own
		// deadline, so the requests waiting for it are not failed by the
		// first one's client going away.
		f.key, f.err = m.fetchSecret(context.WithoutCancel(ctx), nil)
		src.mu.Lock()
		src.flight = nil
		if f.err == nil {
			src.key, src.fetched = f.key, time.Now()
		}
		src.mu.Unlock()
		close(f.done)
	} else {
		src.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.key, f.err
	case <-ctx.Done():
		return nil, m.fail(ctx, "secret", ctx.Err())
	}
}

// recheckSecret confirms that Redis still holds key, restoring it when the
// key was lost, and adopts the value Redis holds.
func (m *Manager) recheckSecret(ctx context.Context, key []byte) {
	got, err := m.fetchSecret(ctx, key)
	src := m.secretSrc
	src.mu.Lock()
	defer src.mu.Unlock()
	src.checking = false
	if err != nil {
		return // fetchSecret reported it; the key in use stays
	}
	src.key, src.fetched = got, time.Now()
}

// fetchSecret runs secret.lua with candidate (nil: a new random one).
func (m *Manager) fetchSecret(ctx context.Context, candidate []byte) ([]byte, error) {
	if candidate == nil {
		var b [secretBytes]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		candidate = []byte(base64.RawURLEncoding.EncodeToString(b[:]))
	}
	v, err := m.run(ctx, m.tel.ops["secret"], secretScript, []string{m.space.Tagged("secret", "")}, candidate)
	if err != nil {
		return nil, m.fail(ctx, "secret", err)
	}
	s, _ := v.(string)
	if len(s) < secretBytes {
		return nil, m.fail(ctx, "secret", fmt.Errorf("the secret kept in Redis has %d bytes, under %d", len(s), secretBytes))
	}
	return []byte(s), nil
}

// userTag names a user's slot and starts the cookies of the user's
// sessions: HMAC-SHA256 of the user under the secret, so user names never
// reach a key or a cookie, and cannot be guessed from one.
func (m *Manager) userTag(ctx context.Context, user string) (string, error) {
	key, err := m.secret(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("redisware session user\x00"))
	mac.Write([]byte(user))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:tagBytes]), nil
}

// tagBytes is the length of a user tag before encoding (16 characters).
const tagBytes = 12

// fingerprint returns what a session bound to a user keeps of the secret
// it was bound under (its "_k" field): HMAC-SHA256 of a constant under the
// secret, truncated, from which the secret cannot be recovered. A script
// that writes to a session it has not loaded compares it, as a load
// compares the user tag: a session bound under another secret is dead,
// and is not written.
func (m *Manager) fingerprint(ctx context.Context) (string, error) {
	key, err := m.secret(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("redisware session secret fingerprint"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:tagBytes]), nil
}
