package ginmw

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer keeps c.Writer a gin.ResponseWriter while a core wraps the
// response (to record it, or to save a session before it starts). Gin
// defers the status line until the first write, and its renderers set
// Content-Type after calling WriteHeader, so the status reaches the core's
// writer (w) only when Gin would send it: at the first write or
// WriteHeaderNow. Everything else is the original writer's.
type writer struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *writer) commit() {
	if !w.ResponseWriter.Written() {
		w.w.WriteHeader(w.ResponseWriter.Status())
	}
}

func (w *writer) WriteHeaderNow()                   { w.commit() }
func (w *writer) Write(p []byte) (int, error)       { w.commit(); return w.w.Write(p) }
func (w *writer) WriteString(s string) (int, error) { w.commit(); return w.w.Write([]byte(s)) }
func (w *writer) Flush()                            { w.commit(); http.NewResponseController(w.w).Flush() }
