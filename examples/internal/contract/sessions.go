package contract

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// browser holds one client's session cookie, as a browser would.
type browser struct {
	c      *client
	cookie string
}

func (b *browser) do(t *testing.T, method, path, contentType, body string) *response {
	t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if b.cookie != "" {
		h.Set("Cookie", "session="+b.cookie)
	}
	r := b.c.do(t, method, path, h, body)
	for _, ck := range r.Cookies() {
		if ck.Name == "session" {
			b.cookie = ck.Value
			if ck.MaxAge < 0 {
				b.cookie = ""
			}
		}
	}
	return r
}

func (b *browser) login(t *testing.T, user string) *response {
	t.Helper()
	r := b.do(t, http.MethodPost, "/login", "application/x-www-form-urlencoded", "user="+user)
	r.wantJSON(t, http.StatusOK, `{"user":"`+user+`"}`)
	return r
}

// me returns GET /me's user and visits, or "" when it answers 401.
func (b *browser) me(t *testing.T) (string, int) {
	t.Helper()
	r := b.do(t, http.MethodGet, "/me", "", "")
	if r.StatusCode == http.StatusUnauthorized {
		return "", 0
	}
	var v struct {
		User   string `json:"user"`
		Visits int    `json:"visits"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.Body, &v) != nil {
		t.Fatalf("GET /me: %d %s", r.StatusCode, r.Body)
	}
	return v.User, v.Visits
}

// testSessions drives the session routes as browsers would.
func testSessions(t *testing.T, c *client) {
	a := &browser{c: c}
	if u, _ := a.me(t); u != "" {
		t.Fatalf("GET /me without a session answered for %q", u)
	}
	r := a.login(t, "alice")
	sc := r.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(sc, attr) {
			t.Fatalf("login cookie %q lacks %s", sc, attr)
		}
	}
	for want := 1; want <= 3; want++ {
		if u, n := a.me(t); u != "alice" || n != want {
			t.Fatalf("GET /me = %q, %d; want alice, %d", u, n, want)
		}
	}

	// Fixation: a cookie the client made up is never adopted, and login
	// issues a new ID.
	chosen := strings.Repeat("A", 43)
	m := &browser{c: c, cookie: chosen}
	m.login(t, "mallory")
	if m.cookie == chosen || m.cookie == "" {
		t.Fatalf("login kept the client-chosen cookie %q", m.cookie)
	}
	if u, _ := (&browser{c: c, cookie: chosen}).me(t); u != "" {
		t.Fatalf("the client-chosen cookie logs in as %q", u)
	}
	// Logging in again renews the ID; the old one is dead.
	old := a.cookie
	a.login(t, "alice")
	if a.cookie == old {
		t.Fatal("a second login kept the ID")
	}
	if u, _ := (&browser{c: c, cookie: old}).me(t); u != "" {
		t.Fatalf("the replaced cookie still logs in as %q", u)
	}

	// JSON login, and the user's sessions.
	b2 := &browser{c: c}
	r = b2.do(t, http.MethodPost, "/login", "application/json", `{"user":"alice"}`)
	r.wantJSON(t, http.StatusOK, `{"user":"alice"}`)
	r = a.do(t, http.MethodGet, "/sessions", "", "")
	var list []struct {
		Ref     string `json:"ref"`
		Current bool   `json:"current"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.Body, &list) != nil || len(list) != 2 {
		t.Fatalf("GET /sessions: %d %s, want alice's 2 sessions", r.StatusCode, r.Body)
	}
	if list[0].Current == list[1].Current {
		t.Fatalf("GET /sessions marks %v as current", list)
	}

	// Log out everywhere.
	b3 := &browser{c: c}
	b3.login(t, "alice")
	r = a.do(t, http.MethodPost, "/logout-all", "", "")
	r.wantJSON(t, http.StatusOK, `{"revoked":3}`)
	for i, b := range []*browser{a, b2, b3} {
		if u, _ := b.me(t); u != "" {
			t.Fatalf("session %d survived logout-all as %q", i, u)
		}
	}
	if u, _ := m.me(t); u != "mallory" {
		t.Fatalf("another user's session died with alice's: %q", u)
	}

	// Log out.
	r = m.do(t, http.MethodPost, "/logout", "", "")
	r.wantJSON(t, http.StatusOK, `{"ok":true}`)
	if m.cookie != "" || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout did not clear the cookie: %q", r.Header.Get("Set-Cookie"))
	}
	if u, _ := (&browser{c: c, cookie: strings.SplitN(sc, ";", 2)[0][len("session="):]}).me(t); u != "" {
		t.Fatalf("an old cookie logs in as %q", u)
	}

	// Bad input.
	r = (&browser{c: c}).do(t, http.MethodPost, "/login", "application/json", `{"user":""}`)
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty user: %d", r.StatusCode)
	}
	r = (&browser{c: c}).do(t, http.MethodGet, "/sessions", "", "")
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /sessions without a session: %d", r.StatusCode)
	}
}
