// Package capture records a response while it passes through to the client:
// its status, a snapshot of its header at the moment it was committed, and
// its body up to a limit. The idempotency and cache cores store what it
// records and replay it byte for byte.
package capture

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
)

// Recorder is an http.ResponseWriter that writes through to the wrapped
// writer and records what passes.
type Recorder struct {
	w       http.ResponseWriter
	limit   int
	status  int
	header  http.Header
	body    bytes.Buffer
	over    bool
	written int64
	hijack  bool
}

// New returns a Recorder over w that keeps at most limit body bytes
// (negative: none).
func New(w http.ResponseWriter, limit int) *Recorder {
	return &Recorder{w: w, limit: limit}
}

// Header returns the header map of the wrapped writer.
func (r *Recorder) Header() http.Header { return r.w.Header() }

// WriteHeader records status and a copy of the header, then sends them.
// Informational (1xx) statuses pass through unrecorded, as net/http allows
// several before the final one.
func (r *Recorder) WriteHeader(status int) {
	if r.status != 0 {
		return
	}
	if status >= 100 && status < 200 {
		r.w.WriteHeader(status)
		return
	}
	r.status = status
	r.header = r.w.Header().Clone()
	r.w.WriteHeader(status)
}

// Write records up to the limit and sends p.
func (r *Recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	r.keep(p)
	n, err := r.w.Write(p)
	r.written += int64(n)
	return n, err
}

// WriteString is Write for strings, so io.WriteString does not copy.
func (r *Recorder) WriteString(s string) (int, error) {
	return r.Write([]byte(s))
}

func (r *Recorder) keep(p []byte) {
	if r.over {
		return
	}
	if r.body.Len()+len(p) > r.limit {
		r.over = true
		r.body = bytes.Buffer{}
		return
	}
	r.body.Write(p)
}

// Flush sends buffered data to the client, when the wrapped writer can.
func (r *Recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(r.w).Flush()
}

// Hijack takes over the connection, when the wrapped writer allows it. A
// hijacked response is never stored.
func (r *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("capture: the response writer cannot be hijacked")
	}
	r.hijack = true
	return h.Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.w }

// Status returns the recorded status; 0 if nothing was written.
func (r *Recorder) Status() int { return r.status }

// Wrote reports whether the handler wrote anything (a status or a body).
func (r *Recorder) Wrote() bool { return r.status != 0 }

// SentHeader returns the header as it was when the status was sent.
func (r *Recorder) SentHeader() http.Header { return r.header }

// Body returns the recorded body; Complete says whether it is all of it.
func (r *Recorder) Body() []byte { return r.body.Bytes() }

// Complete reports whether the whole response was recorded: it was not
// larger than the limit, and the connection was not hijacked.
func (r *Recorder) Complete() bool { return !r.over && !r.hijack }

// Size returns how many body bytes reached the wrapped writer.
func (r *Recorder) Size() int64 { return r.written }
