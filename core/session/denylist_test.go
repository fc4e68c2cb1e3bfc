package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
)

// bearer is a test Parse: the token is its own ID. A real Parse verifies a
// JWT and returns its jti.
func bearer(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", errors.New("no token")
	}
	return tok, nil
}

func newGuard(t *testing.T, d *DenyList) *TokenGuard {
	t.Helper()
	g, err := NewTokenGuard(d, TokenGuardOptions{Parse: bearer})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDenyList(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	d, err := NewDenyList(srv.Client(), DenyListOptions{Settings: core.Settings{Prefix: srv.Prefix, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(ctx, "jti-old", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"jti-1": true, "jti-2": false, "jti-old": false} {
		if got, err := d.Revoked(ctx, id); err != nil || got != want {
			t.Errorf("Revoked(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
	ttl := srv.Client().PTTL(ctx, d.key("jti-1")).Val()
	if ttl <= 59*time.Minute || ttl > time.Hour+time.Second {
		t.Fatalf("entry TTL %v, want the token's remaining hour", ttl)
	}

	g := newGuard(t, d)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	for tok, want := range map[string]int{"": 401, "jti-1": 401, "jti-2": 204} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r, ok)
		if w.Code != want {
			t.Errorf("token %q: %d, want %d", tok, w.Code, want)
		}
		if want == 401 && w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("token %q: 401 with WWW-Authenticate %q", tok, w.Header().Get("WWW-Authenticate"))
		}
		if want == 401 && w.Header().Get("Content-Type") != core.ProblemContentType {
			t.Errorf("token %q: 401 with Content-Type %q", tok, w.Header().Get("Content-Type"))
		}
	}
	down, err := NewDenyList(redistest.Hung(t), DenyListOptions{Settings: core.Settings{Timeout: 30 * time.Millisecond, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer jti-2")
	w := httptest.NewRecorder()
	newGuard(t, down).ServeHTTP(w, r, ok)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("deny list down: %d (WWW-Authenticate %q), want 503 (never let a possibly revoked token through)",
			w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// Serve returns each rejection unwritten, in the one Rejection shape, and
// Reject writes it through the deny list's OnReject; Redis failures reach
// OnError.
func TestTokenGuardRejections(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	var written []*core.Rejection
	var reported atomic.Int64
	shared := core.Settings{
		Prefix: srv.Prefix,
		Logger: quiet,
		OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			written = append(written, rej)
			w.WriteHeader(rej.Status)
			_, _ = w.Write([]byte("custom " + rej.Detail))
		},
		OnError: func(ctx context.Context, err error) {
			if errors.Is(err, ErrUnavailable) {
				reported.Add(1)
			}
		},
	}
	d, err := NewDenyList(srv.Client(), DenyListOptions{Settings: shared})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(context.Background(), "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	shared.Timeout = 30 * time.Millisecond
	down, err := NewDenyList(redistest.Hung(t), DenyListOptions{Settings: shared})
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Add(1) })
	for _, tc := range []struct {
		name, token string
		deny        *DenyList
		status      int
		detail      string
		errIs       error
	}{
		{"no token", "", d, 401, "A valid bearer token is required.", nil},
		{"revoked", "jti-1", d, 401, "This token has been revoked.", nil},
		{"list down", "jti-2", down, 503, "Token revocations cannot be checked; try again shortly.", ErrUnavailable},
	} {
		g := newGuard(t, tc.deny)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		rej := g.Serve(rec, r, next)
		if rej == nil || rej.Status != tc.status || rej.Detail != tc.detail || rec.Code != 200 || rec.Body.Len() != 0 {
			t.Fatalf("%s: Serve = %+v, wrote %d %q", tc.name, rej, rec.Code, rec.Body)
		}
		if tc.errIs != nil && !errors.Is(rej, tc.errIs) {
			t.Errorf("%s: rejection %v does not wrap %v", tc.name, rej, tc.errIs)
		}
		if tc.status == 401 && rej.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("%s: header %v", tc.name, rej.Header)
		}
		rec = httptest.NewRecorder()
		g.ServeHTTP(rec, r, next)
		if rec.Code != tc.status || rec.Body.String() != "custom "+tc.detail || written[len(written)-1].Status != tc.status {
			t.Errorf("%s: ServeHTTP wrote %d %q, not through OnReject", tc.name, rec.Code, rec.Body)
		}
		if tc.status == 401 && rec.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("%s: OnReject saw no WWW-Authenticate on w: %v", tc.name, rec.Header())
		}
	}
	if ran.Load() != 0 {
		t.Fatalf("next ran %d times for rejected requests", ran.Load())
	}
	if reported.Load() != 2 {
		t.Fatalf("OnError saw %d failures of the deny list, want 2 (Serve, ServeHTTP)", reported.Load())
	}
}

// NewDenyList and NewTokenGuard fail up front, naming what cannot work.
func TestNewDenyListAndTokenGuardReject(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil client", func() error { _, err := NewDenyList(nil, DenyListOptions{}); return err }(), "nil Redis client"},
		{"bad proxy", func() error {
			_, err := NewDenyList(srv.Client(), DenyListOptions{Settings: core.Settings{TrustedProxies: []string{"nope"}}})
			return err
		}(), "Settings.TrustedProxies"},
		{"short secret", func() error {
			_, err := NewDenyList(srv.Client(), DenyListOptions{Settings: core.Settings{Secret: []byte("short")}})
			return err
		}(), "Settings.Secret"},
		{"nil deny list", func() error { _, err := NewTokenGuard(nil, TokenGuardOptions{Parse: bearer}); return err }(), "nil DenyList"},
		{"nil Parse", func() error {
			d, err := NewDenyList(srv.Client(), DenyListOptions{})
			if err != nil {
				return err
			}
			_, err = NewTokenGuard(d, TokenGuardOptions{})
			return err
		}(), "Options.Parse"},
	} {
		if !errors.Is(tc.err, core.ErrConfig) || !strings.Contains(tc.err.Error(), tc.want) || !strings.HasPrefix(tc.err.Error(), "session: ") {
			t.Errorf("%s: error %v, want one naming %q and wrapping core.ErrConfig", tc.name, tc.err, tc.want)
		}
	}
}

// commandNames records the name of every command a client sends.
type commandNames struct {
	mu    sync.Mutex
	names []string
}

func (c *commandNames) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *commandNames) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = nil
	return n
}

// Revoked reads with a script, which go-redis sends to a master under every
// client configuration, never with a plain read that a client reading from
// replicas (ClusterOptions.ReadOnly, RouteRandomly, RouteByLatency) would
// send to a replica still without the revocation.
// internal/failover's TestReplicaReads shows it on a real Cluster.
func TestRevokedReadsTheMaster(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	rdb := srv.Client()
	d, err := NewDenyList(rdb, DenyListOptions{Settings: core.Settings{Prefix: srv.Prefix, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	names := &commandNames{}
	rdb.AddHook(names)
	for i := range 2 {
		got, err := d.Revoked(ctx, "jti-1")
		if err != nil || !got {
			t.Fatalf("Revoked = %v, %v", got, err)
		}
		sent := names.take()
		want := []string{"evalsha"}
		if i == 0 && len(sent) == 2 {
			want = []string{"evalsha", "eval"} // NOSCRIPT on the first call
		}
		if !slices.Equal(sent, want) {
			t.Fatalf("call %d sent %v, want %v", i, sent, want)
		}
	}
}
