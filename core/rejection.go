package core

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/redisware/redisware/core/internal/problem"
)

// Rejection is a core's answer in place of the handler's, in one shape for
// every core: the rate limiter's 429 (and 503 when it fails closed), the
// idempotency guard's 400, 409, 413, 422 and 503, the session's 503, the
// cache's 504 to only-if-cached, the token guard's 401. It is an error, so
// it can travel up a framework's chain (Echo's adapter wraps it in an
// *echo.HTTPError) and be found again with errors.As.
//
// The default response is an RFC 9457 application/problem+json body
// (Write); Settings.OnReject replaces it for every core or for one.
type Rejection struct {
	// Status is the HTTP status code of the response.
	Status int
	// Title is a short, human-readable summary of the kind of problem,
	// the same for every occurrence. Zero means the status text
	// ("Too Many Requests").
	Title string
	// Detail explains this occurrence to the client ("Rate limit "api"
	// of 10 per 1m0s exceeded; retry in 6 s."). It never holds secrets.
	Detail string
	// Type is a URI that identifies the problem type. Zero means
	// "about:blank", whose title is the status text.
	Type string
	// Header holds the fields to send with the rejection: Retry-After,
	// RateLimit and RateLimit-Policy, Cache-Status, WWW-Authenticate.
	Header http.Header
	// Err is the underlying error, if any; it is never shown to the
	// client.
	Err error
}

// Error returns the status and the detail, for logs.
func (rej *Rejection) Error() string {
	var b strings.Builder
	b.WriteString("rejected with ")
	b.WriteString(strconv.Itoa(rej.Status))
	b.WriteString(" ")
	b.WriteString(rej.TitleOrStatusText())
	if rej.Detail != "" {
		b.WriteString(": ")
		b.WriteString(rej.Detail)
	}
	if rej.Err != nil {
		b.WriteString(" (")
		b.WriteString(rej.Err.Error())
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (rej *Rejection) Unwrap() error { return rej.Err }

// TitleOrStatusText returns Title, or the status text when Title is zero.
func (rej *Rejection) TitleOrStatusText() string {
	if rej.Title != "" {
		return rej.Title
	}
	return http.StatusText(rej.Status)
}

// Problem returns the RFC 9457 application/problem+json body of rej.
func (rej *Rejection) Problem() []byte { return rej.details().Body() }

func (rej *Rejection) details() problem.Details {
	d := problem.New(rej.Status, rej.Detail)
	if rej.Title != "" {
		d.Title = rej.Title
	}
	if rej.Type != "" {
		d.Type = rej.Type
	}
	return d
}

// SetHeader copies rej's Header fields onto h, replacing fields of the
// same name.
func (rej *Rejection) SetHeader(h http.Header) {
	for k, vs := range rej.Header {
		h[k] = append([]string(nil), vs...)
	}
}

// Write sends rej as the whole response: its Header fields, then the
// problem body with Content-Type application/problem+json, Content-Length
// and X-Content-Type-Options: nosniff. Fields already set on w are kept.
func (rej *Rejection) Write(w http.ResponseWriter) {
	rej.SetHeader(w.Header())
	problem.Write(w, rej.details())
}

// ProblemContentType is the media type of a rejection's default body.
const ProblemContentType = problem.ContentType
