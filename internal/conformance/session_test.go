package conformance_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/internal/conformance"
)

func TestSessionConformance(t *testing.T) {
	t.Parallel()
	for _, a := range conformance.SessionAdapters() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			m, err := session.New(srv.Client(), session.Options{Settings: core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second, Logger: quiet}})
			if err != nil {
				t.Fatal(err)
			}
			var runs atomic.Int64
			h := a.Mount(m, func(s *session.Session, w http.ResponseWriter, r *http.Request) {
				runs.Add(1)
				switch r.URL.Query().Get("do") {
				case "put":
					_ = s.Put("name", r.URL.Query().Get("v"))
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusCreated)
					_, _ = w.Write([]byte(`{"ok":true}`))
				case "login":
					s.Login(r.URL.Query().Get("user"))
				case "logout":
					s.Destroy()
				default:
					_ = json.NewEncoder(w).Encode(map[string]string{"name": s.GetString("name"), "user": s.User()})
				}
			}, "/s")
			cookie := ""
			do := func(method, query string, want int) *httptest.ResponseRecorder {
				t.Helper()
				r := httptest.NewRequest(method, "/s?"+query, nil)
				if cookie != "" {
					r.AddCookie(&http.Cookie{Name: "session", Value: cookie})
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != want {
					t.Fatalf("%s ?%s: status %d, want %d; body %s", method, query, w.Code, want, w.Body)
				}
				for _, c := range w.Result().Cookies() {
					if c.Name == "session" {
						cookie = c.Value
						if c.MaxAge < 0 {
							cookie = ""
						}
					}
				}
				return w
			}
			w := do(http.MethodPost, "do=put&v=ann", http.StatusCreated)
			sc := w.Header().Get("Set-Cookie")
			if want := "session=" + cookie + "; Path=/; Max-Age=1800; HttpOnly; Secure; SameSite=Lax"; sc != want || cookie == "" {
				t.Fatalf("Set-Cookie %q, want %q", sc, want)
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Body.String() != `{"ok":true}` || w.Header().Get("Vary") != "Cookie" {
				t.Fatalf("the handler's response was changed: %v %q", w.Header(), w.Body)
			}
			if got := do(http.MethodGet, "", 200).Body.String(); !strings.Contains(got, `"name":"ann"`) {
				t.Fatalf("value not kept: %s", got)
			}
			anon := cookie
			do(http.MethodPost, "do=login&user=u1", 200)
			if cookie == anon || cookie == "" {
				t.Fatal("login did not renew the cookie")
			}
			if got := do(http.MethodGet, "", 200).Body.String(); !strings.Contains(got, `"user":"u1"`) || !strings.Contains(got, `"name":"ann"`) {
				t.Fatalf("after login: %s", got)
			}
			loggedIn := cookie
			cookie = anon
			// The pre-login ID is dead, and marked as renewed for a minute:
			// no session, and no Set-Cookie that would replace the new
			// cookie in a browser that sent this request before it got it.
			if w := do(http.MethodGet, "", 200); strings.Contains(w.Body.String(), "ann") || w.Header().Get("Set-Cookie") != "" {
				t.Fatalf("the pre-login cookie: %s, Set-Cookie %q", w.Body, w.Header().Get("Set-Cookie"))
			}
			cookie = loggedIn
			w = do(http.MethodPost, "do=logout", 200)
			if !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") || cookie != "" {
				t.Fatalf("logout cookie %q", w.Header().Get("Set-Cookie"))
			}
			cookie = loggedIn
			if got := do(http.MethodGet, "", 200).Body.String(); strings.Contains(got, "u1") {
				t.Fatalf("the session survived logout: %s", got)
			}

			// Store down: a route that never uses its session answers as
			// usual, with no cookie change; one that reads it gets the 503
			// problem in place of the handler's response, never a response
			// built on an empty session.
			for _, down := range []redis.UniversalClient{redistest.Hung(t), redistest.Refused(t)} {
				dm, err := session.New(down, session.Options{Settings: core.Settings{Timeout: 30 * time.Millisecond, Logger: quiet}})
				if err != nil {
					t.Fatal(err)
				}
				var downRuns atomic.Int64
				dh := a.Mount(dm, func(s *session.Session, w http.ResponseWriter, r *http.Request) {
					downRuns.Add(1)
					w.Header().Set("Content-Type", "text/plain")
					if r.URL.Query().Get("do") == "static" {
						_, _ = w.Write([]byte("static page"))
						return
					}
					_, _ = w.Write([]byte("hello " + s.User()))
				}, "/s")
				for _, tc := range []struct {
					query  string
					status int
					body   string
				}{{"do=static", 200, "static page"}, {"do=read", 503, "Sessions are unavailable"}} {
					r := httptest.NewRequest(http.MethodGet, "/s?"+tc.query, nil)
					r.AddCookie(&http.Cookie{Name: "session", Value: loggedIn})
					rec := httptest.NewRecorder()
					before := downRuns.Load()
					dh.ServeHTTP(rec, r)
					wantType := "text/plain"
					if tc.status == 503 {
						wantType = "application/problem+json"
					}
					if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) || rec.Header().Get("Content-Type") != wantType ||
						rec.Header().Get("Set-Cookie") != "" || downRuns.Load() != before+1 {
						t.Fatalf("store down, ?%s: %d %q %v, handler ran %d times", tc.query, rec.Code, rec.Body, rec.Header(), downRuns.Load()-before)
					}
				}
			}

			// Store down, with Settings.OnReject: the 503 is written by it,
			// whether loading fails or saving does as the response starts.
			var rejected atomic.Int64
			custom, err := session.New(redistest.Hung(t), session.Options{Settings: core.Settings{
				Timeout: 30 * time.Millisecond,
				Logger:  quiet,
				OnReject: func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
					if rej.Status == http.StatusServiceUnavailable && errors.Is(rej, session.ErrUnavailable) {
						rejected.Add(1)
					}
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(rej.Status)
					_, _ = w.Write([]byte("sessions are resting"))
				},
			}})
			if err != nil {
				t.Fatal(err)
			}
			ch := a.Mount(custom, func(s *session.Session, w http.ResponseWriter, r *http.Request) {
				_ = s.Put("name", "lost")
				_, _ = w.Write([]byte("saved, or so I think"))
			}, "/s")
			for _, withCookie := range []bool{true, false} { // loading fails; saving fails
				r := httptest.NewRequest(http.MethodPost, "/s", nil)
				if withCookie {
					r.AddCookie(&http.Cookie{Name: "session", Value: anon})
				}
				rec := httptest.NewRecorder()
				ch.ServeHTTP(rec, r)
				if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "sessions are resting" || rec.Header().Get("Content-Type") != "text/plain" {
					t.Fatalf("OnReject (cookie %v): %d %q %q", withCookie, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
				}
			}
			if rejected.Load() != 2 {
				t.Fatalf("OnReject wrote %d rejections, want 2", rejected.Load())
			}
		})
	}
}

// RememberMe and SetDeadline shape the cookie alike through every adapter:
// a remembered session's cookies carry Max-Age, a not-remembered one's
// never do, a renewal keeps the choice, and a deadline brings Max-Age and
// the session's end forward.
func TestSessionRememberMeAndDeadlineConformance(t *testing.T) {
	t.Parallel()
	for _, a := range conformance.SessionAdapters() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			start := time.Unix(1_800_000_000, 0)
			var now atomic.Int64
			now.Store(start.UnixMilli())
			m, err := session.New(srv.Client(), session.Options{
				Settings:    core.Settings{Prefix: srv.Prefix, Timeout: 5 * time.Second, Logger: quiet},
				Clock:       func() time.Time { return time.UnixMilli(now.Load()) },
				IdleTimeout: 10 * time.Minute,
				Lifetime:    time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			h := a.Mount(m, func(s *session.Session, w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				if v := q.Get("remember"); v != "" {
					s.RememberMe(v == "1")
				}
				if v := q.Get("for"); v != "" {
					d, _ := time.ParseDuration(v)
					s.SetDeadline(time.UnixMilli(now.Load()).Add(d))
				}
				switch q.Get("do") {
				case "login":
					s.Login(q.Get("user"))
				case "renew":
					s.Renew()
				default:
					_, _ = w.Write([]byte(s.User()))
				}
			}, "/s")
			do := func(cookie *string, query string) *httptest.ResponseRecorder {
				t.Helper()
				r := httptest.NewRequest(http.MethodPost, "/s?"+query, nil)
				if *cookie != "" {
					r.AddCookie(&http.Cookie{Name: "session", Value: *cookie})
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("?%s: status %d", query, w.Code)
				}
				for _, c := range w.Result().Cookies() {
					if c.Name == "session" {
						*cookie = c.Value
					}
				}
				return w
			}
			want := func(w *httptest.ResponseRecorder, what, sc string) {
				t.Helper()
				got := w.Header().Values("Set-Cookie")
				if (sc == "" && len(got) != 0) || (sc != "" && (len(got) != 1 || got[0] != sc)) {
					t.Fatalf("%s: Set-Cookie %q, want %q", what, got, sc)
				}
			}
			persistent := func(v string, maxAge int) string {
				return fmt.Sprintf("session=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Lax", v, maxAge)
			}
			browser := func(v string) string { return "session=" + v + "; Path=/; HttpOnly; Secure; SameSite=Lax" }

			var yes, no string
			want(do(&yes, "do=login&user=ann&remember=1"), "remembered login", persistent(yes, 600))
			want(do(&no, "do=login&user=bob&remember=0"), "not remembered login", browser(no))
			now.Store(start.Add(70 * time.Second).UnixMilli()) // the idle expiry moved
			want(do(&yes, ""), "remembered, idle expiry moved", persistent(yes, 600))
			want(do(&no, ""), "not remembered, idle expiry moved", "")
			want(do(&no, "do=renew"), "not remembered, renewed", browser(no))
			want(do(&no, "do=login&user=bob"), "not remembered, logged in again", browser(no))
			want(do(&no, "remember=1"), "switched to remembered", persistent(no, 600))

			// A deadline 5 minutes away: Max-Age follows, then the session
			// ends and its cookie is cleared.
			want(do(&yes, "for=5m"), "deadline", persistent(yes, 300))
			want(do(&yes, "for=2h"), "a deadline past the Lifetime", "")
			now.Store(start.Add(70*time.Second + 5*time.Minute).UnixMilli())
			w := do(&yes, "")
			if w.Body.String() != "" {
				t.Fatalf("alive at its deadline as %q", w.Body)
			}
			want(w, "at the deadline", "session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
		})
	}
}
