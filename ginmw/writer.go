package ginmw

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/internal/route"
)

// Mount returns a Gin handler that serves every request through m, the
// value a core's New returned (a *ratelimit.Limiter, *httpcache.Cache,
// *idempotency.Guard, *session.Manager or *session.TokenGuard): m answers
// by itself or rejects (through its OnReject, by default an RFC 9457
// problem body), and the chain is aborted; or m runs the rest of the chain.
// RateLimit, HTTPCache, Idempotency, Session and TokenGuard are Mount under
// the name of their core.
func Mount(m core.Middleware, opts ...Option) gin.HandlerFunc { return mount(m, nil, opts) }

func mount(m core.Middleware, onRequest func(c *gin.Context, r *http.Request), opts []Option) gin.HandlerFunc {
	cfg := configure(opts)
	return func(c *gin.Context) {
		if cfg.skip != nil && cfg.skip(c) {
			c.Next()
			return
		}
		setPattern(c)
		withContext(c)
		serveCore(c, onRequest, func(orig gin.ResponseWriter, next http.Handler) {
			if rej := m.Serve(orig, c.Request, next); rej != nil {
				m.Reject(orig, c.Request, rej)
			}
		})
	}
}

// setPattern records the matched route in Request.Pattern, in net/http's
// syntax, where core.Route reads it: "" when no route matched.
func setPattern(c *gin.Context) {
	c.Request.Pattern = route.FromColon(c.FullPath())
}

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

// serveCore runs a core that takes the rest of the chain as its next
// handler. serve calls the core with next; next runs c.Next() on the
// request the core passes and on its writer (through a writer that keeps
// c.Writer a gin.ResponseWriter, unless the core passed Gin's own writer
// on), after onRequest, if set, has seen the request. When the core
// answered by itself, the chain is aborted.
func serveCore(c *gin.Context, onRequest func(c *gin.Context, r *http.Request), serve func(orig gin.ResponseWriter, next http.Handler)) {
	orig := c.Writer
	ran := false
	serve(orig, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		c.Request = r
		if onRequest != nil {
			onRequest(c, r)
		}
		if w == http.ResponseWriter(orig) {
			c.Next()
			return
		}
		gw := &writer{ResponseWriter: orig, w: w}
		c.Writer = gw
		defer func() { c.Writer = orig }()
		c.Next()
		gw.commit() // a status set without a body, such as c.Status(204)
	}))
	if !ran {
		c.Abort()
	}
}
