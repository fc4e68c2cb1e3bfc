package ginmw

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/idempotency"
)

// Idempotency returns a Gin handler that guards the rest of the chain with
// g: the first request with an Idempotency-Key runs and its response is
// stored; retries get that response again, with Idempotent-Replayed: true,
// and the chain is aborted. The route that scopes a record is
// c.FullPath().
func Idempotency(g *idempotency.Guard) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Writer
		ran := false
		rej := g.Serve(orig, c.Request, c.FullPath(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			c.Writer = &writer{ResponseWriter: orig, w: w}
			defer func() { c.Writer = orig }()
			c.Next()
		}))
		if rej != nil {
			g.Reject(orig, c.Request, rej)
		}
		if !ran {
			c.Abort()
		}
	}
}

// writer keeps c.Writer a gin.ResponseWriter while the core records what
// the handlers write: writes go to w (the core's recorder, which passes
// them on to the original writer); everything else is the original's.
type writer struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *writer) WriteHeader(code int)              { w.w.WriteHeader(code) }
func (w *writer) Write(p []byte) (int, error)       { return w.w.Write(p) }
func (w *writer) WriteString(s string) (int, error) { return w.w.Write([]byte(s)) }
func (w *writer) Flush()                            { http.NewResponseController(w.w).Flush() }
