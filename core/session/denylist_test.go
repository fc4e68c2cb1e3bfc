package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redisware/redisware/core/redistest"
)

func TestDenyList(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	d, err := NewDenyList(srv.Client(), DenyListOptions{Prefix: srv.Prefix, Logger: quiet})
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

	g := &TokenGuard{Deny: d, Parse: func(r *http.Request) (string, error) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			return "", errors.New("no token")
		}
		return tok, nil // a real Parse verifies a JWT and returns its jti
	}}
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
		if want == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: 401 without WWW-Authenticate", tok)
		}
	}
	down, _ := NewDenyList(redistest.Hung(t), DenyListOptions{Timeout: 30 * time.Millisecond, Logger: quiet})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer jti-2")
	w := httptest.NewRecorder()
	(&TokenGuard{Deny: down, Parse: g.Parse}).ServeHTTP(w, r, ok)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("deny list down: %d, want 503 (never let a possibly revoked token through)", w.Code)
	}
}
