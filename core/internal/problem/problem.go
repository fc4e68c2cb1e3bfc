// Package problem writes RFC 9457 "application/problem+json" bodies, the
// default shape of every rejection a redisware core makes.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of a problem body.
const ContentType = "application/problem+json"

// Details is an RFC 9457 problem. Type defaults to "about:blank" and Title
// to the status text, as the RFC asks for that type.
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// New returns the problem for status with the given detail.
func New(status int, detail string) Details {
	return Details{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Body returns the JSON encoding of p.
func (p Details) Body() []byte {
	b, err := json.Marshal(p)
	if err != nil { // cannot happen: every field is a string or an int
		return []byte(`{"type":"about:blank","status":` + strconv.Itoa(p.Status) + `}`)
	}
	return b
}

// Write sends p as the whole response: Content-Type, Content-Length,
// nosniff, the status line and the body. Headers already set on w are kept.
func Write(w http.ResponseWriter, p Details) {
	body := p.Body()
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}
