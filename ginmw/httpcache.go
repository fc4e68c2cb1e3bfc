package ginmw

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core/httpcache"
)

// HTTPCache returns a Gin handler that answers requests from c's shared
// cache, aborting the chain, or runs the rest of the chain and stores its
// response as HTTP allows (RFC 9111). A request with Cache-Control:
// only-if-cached that nothing stored answers gets 504 with an
// application/problem+json body. A stale-while-revalidate refresh runs the
// chain after the stale response was sent and flushed, within the
// request, since a gin.Context must not outlive it. For a route with
// options of its own, mount c.WithRoute(...).
func HTTPCache(c *httpcache.Cache, opts ...Option) gin.HandlerFunc {
	cfg := configure(opts)
	return func(gc *gin.Context) {
		if cfg.skip != nil && cfg.skip(gc) {
			gc.Next()
			return
		}
		setPattern(gc)
		withContext(gc)
		orig := gc.Writer
		ran := false
		rej := c.ServeWithRefresh(orig, gc.Request, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			gc.Request = r
			cw := &cacheWriter{ResponseWriter: orig, w: w, status: http.StatusOK, size: -1}
			gc.Writer = cw
			defer func() { gc.Writer = orig }()
			gc.Next()
			cw.WriteHeaderNow() // a status set without a body, such as c.Status(204)
		}), nil)
		if rej != nil {
			c.Reject(orig, gc.Request, rej)
		}
		if !ran {
			gc.Abort()
		}
	}
}

// cacheWriter keeps c.Writer a gin.ResponseWriter while the cache sees what
// the handlers write. Like Gin's own writer it defers the status until the
// first write or WriteHeaderNow, since Gin's renderers set Content-Type
// after calling WriteHeader; the cache then sees the status with the
// header complete. It keeps its own status and size, so it is fresh even
// when the chain runs a second time for a refresh after the cache already
// answered on the original writer.
type cacheWriter struct {
	gin.ResponseWriter // the original: CloseNotify and Pusher
	w                  http.ResponseWriter
	status             int
	size               int
}

func (w *cacheWriter) Header() http.Header { return w.w.Header() }

func (w *cacheWriter) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

func (w *cacheWriter) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.w.WriteHeader(w.status)
	}
}

func (w *cacheWriter) Write(p []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.w.Write(p)
	w.size += n
	return n, err
}

func (w *cacheWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }
func (w *cacheWriter) Status() int                       { return w.status }
func (w *cacheWriter) Size() int                         { return w.size }
func (w *cacheWriter) Written() bool                     { return w.size != -1 }

func (w *cacheWriter) Flush() {
	w.WriteHeaderNow()
	_ = http.NewResponseController(w.w).Flush()
}

func (w *cacheWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.size < 0 {
		w.size = 0
	}
	return http.NewResponseController(w.w).Hijack()
}

func (w *cacheWriter) Unwrap() http.ResponseWriter { return w.w }
