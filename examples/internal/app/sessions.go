package app

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/redisware/redisware/core/session"
)

// NewSessions returns the session manager of the session routes: the
// library's defaults (HttpOnly, Secure, SameSite=Lax cookies named
// "session"; 30 minutes idle, 24 hours at most), which work on
// http://localhost too, since browsers treat localhost as secure.
func NewSessions(b Backend) (*session.Manager, error) {
	return session.New(b.Client, session.Options{Settings: b.Settings()})
}

// LoginUser returns the user named by a POST /login request: the "user"
// field of a form or of a JSON object. The error is fit for the client.
func LoginUser(r *http.Request) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var user string
	if mt == "application/json" {
		var body struct {
			User string `json:"user"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16)).Decode(&body); err != nil {
			return "", errors.New(`body must be JSON {"user":"..."}`)
		}
		user = body.User
	} else {
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<16)
		if err := r.ParseForm(); err != nil {
			return "", errors.New("body must be a form with a user field")
		}
		user = r.PostForm.Get("user")
	}
	user = strings.TrimSpace(user)
	if user == "" || len(user) > 128 {
		return "", errors.New("user must be 1 to 128 characters")
	}
	return user, nil
}

// SessionView is one entry of GET /sessions.
type SessionView struct {
	session.Info
	// Current marks the session that asked.
	Current bool `json:"current"`
}

// SessionViews marks the current session among a user's sessions.
func SessionViews(list []session.Info, s *session.Session) []SessionView {
	out := make([]SessionView, 0, len(list))
	for _, in := range list {
		out = append(out, SessionView{Info: in, Current: in.Ref == s.Ref()})
	}
	return out
}
