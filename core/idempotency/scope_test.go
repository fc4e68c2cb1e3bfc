package idempotency

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
)

// sessionApp is an app as apps mount the two cores: the session
// middleware outside, the guard inside it on POST /orders. POST /login
// binds the session to the user named by X-Login; POST /visit stores a
// value, so a guest gets a stored session.
type sessionApp struct {
	t    *testing.T
	m    *session.Manager
	g    *Guard
	runs atomic.Int64
	// scopes receives the DefaultScope of each request that reaches
	// GET /scope.
	scope string
}

func newSessionApp(t *testing.T, srv *redistest.Server, sessions *redistest.Server, opts Options) *sessionApp {
	t.Helper()
	var sc redisClient = srv.Client()
	timeout := 5 * time.Second
	if sessions == nil {
		sessions = srv
	}
	m, err := session.New(sessions.Client(), session.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: timeout, Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	_ = sc
	return &sessionApp{t: t, m: m, g: newGuard(t, srv, opts)}
}
