package echomw_test

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

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/echomw"
)

// TokenGuard lets a valid token through, answers 401 with the Bearer
// challenge to a missing or revoked one and 503 while the deny list cannot
// be read; echomw.ErrorHandler writes the rejections as the core would
// (through the list's OnReject when set). The handler never runs for a
// rejected request.
func TestTokenGuard(t *testing.T) {
	t.Parallel()
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
	mount := func(g *session.TokenGuard, withErrorHandler bool) http.Handler {
		e := echo.New()
		if withErrorHandler {
			e.HTTPErrorHandler = echomw.ErrorHandler(nil)
		}
		e.GET("/api", func(c echo.Context) error { runs++; return c.String(http.StatusOK, "ok") }, echomw.TokenGuard(g))
		return e
	}
	up := mount(newGuard(srv.Client(), core.Settings{Prefix: srv.Prefix}), true)
	down := mount(newGuard(redistest.Hung(t), core.Settings{Timeout: 30 * time.Millisecond}), true)
	custom := mount(newGuard(srv.Client(), core.Settings{Prefix: srv.Prefix,
		OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
			w.WriteHeader(rej.Status)
			_, _ = io.WriteString(w, "custom: "+rej.Detail)
		}}), true)
	// Echo's own error handler: its JSON body, the status and the
	// challenge kept.
	plain := mount(newGuard(srv.Client(), core.Settings{Prefix: srv.Prefix}), false)
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
		{"Echo's handler", "revoked", plain, 401, challenge, `"message":"Unauthorized"`},
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
		if tc.status != 200 && tc.name != "OnReject" && tc.name != "Echo's handler" && w.Header().Get("Content-Type") != core.ProblemContentType {
			t.Errorf("%s: Content-Type %q", tc.name, w.Header().Get("Content-Type"))
		}
	}
	if runs != 1 {
		t.Fatalf("the handler ran %d times, want 1 (the valid token)", runs)
	}
}
