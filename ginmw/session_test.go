package ginmw_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/ginmw"
)

// TokenGuard lets a valid token through, answers 401 with the Bearer
// challenge to a missing or revoked one and 503 while the deny list cannot
// be read, through the list's OnReject when set; the chain is aborted, so
// the handler never runs for a rejected request.
func TestTokenGuard(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	srv := redistest.New(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	newGuard := func(client redis.UniversalClient, s core.Settings) *session.TokenGuard {
		t.Helper()
		s.Logger = quiet
		d, err := session.NewDenyList(client, session.DenyListOptions{Settings: s})
		if err != nil {
			t.Fatal(err)
		}
		if s.Timeout == 0 { // a live list
			if err := d.Revoke(context.Background(), "revoked", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		g, err := session.NewTokenGuard(d, session.TokenGuardOptions{Parse: func(r *http.Request) (string, error) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok == "" {
				return "", errors.New("no token")
			}
			return tok, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	runs := 0
	mount := func(g *session.TokenGuard) http.Handler {
		e := gin.New()
		e.GET("/api", ginmw.TokenGuard(g), func(c *gin.Context) { runs++; c.String(http.StatusOK, "ok") })
		return e
	}
	up := mount(newGuard(srv.Client(), core.Settings{Prefix: srv.Prefix}))
	down := mount(newGuard(redistest.Hung(t), core.Settings{Timeout: 30 * time.Millisecond}))
	custom := mount(newGuard(srv.Client(), core.Settings{Prefix: srv.Prefix,
		OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			w.WriteHeader(rej.Status)
			_, _ = io.WriteString(w, "custom: "+rej.Detail)
		}}))
	const challenge = `Bearer error="invalid_token"`
	for _, tc := range []struct {
		name, token string
		h           http.Handler
		status      int
		header      string // WWW-Authenticate
		body        string // a substring
	}{
		{"valid", "fine", up, 200, "", "ok"},
		{"missing", "", up, 401, challenge, "A valid bearer token is required."},
		{"revoked", "revoked", up, 401, challenge, "This token has been revoked."},
		{"list down", "fine", down, 503, "", "Token revocations cannot be checked"},
		{"OnReject", "revoked", custom, 401, challenge, "custom: This token has been revoked."},
	} {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, r)
		if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.header || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s: %d %v %q; want %d, WWW-Authenticate %q, body with %q", tc.name, w.Code, w.Header(), w.Body, tc.status, tc.header, tc.body)
		}
		if tc.status != 200 && tc.name != "OnReject" && w.Header().Get("Content-Type") != core.ProblemContentType {
			t.Errorf("%s: Content-Type %q", tc.name, w.Header().Get("Content-Type"))
		}
	}
	if runs != 1 {
		t.Fatalf("the handler ran %d times, want 1 (the valid token)", runs)
	}
}
