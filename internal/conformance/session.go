package conformance

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core/session"
	"github.com/redisware/redisware/echomw"
	"github.com/redisware/redisware/ginmw"
	"github.com/redisware/redisware/nethttp"
)

// SessionHandler is a handler that receives the session the way its
// framework offers it.
type SessionHandler func(s *session.Session, w http.ResponseWriter, r *http.Request)

// SessionAdapter mounts a SessionHandler behind the session middleware in
// one framework.
type SessionAdapter struct {
	// Name is the framework's name.
	Name string
	// Mount serves h for GET and POST at path behind m. The session h
	// receives comes from the framework's own context (Gin, Echo) or the
	// request context (net/http); Mount checks they agree with
	// session.FromContext.
	Mount func(m *session.Manager, h SessionHandler, path string) http.Handler
}

// SessionAdapters returns the session adapter of every framework.
func SessionAdapters() []SessionAdapter {
	return []SessionAdapter{
		{Name: "nethttp", Mount: func(m *session.Manager, h SessionHandler, path string) http.Handler {
			mux := http.NewServeMux()
			mux.Handle(path, nethttp.Session(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h(session.FromContext(r.Context()), w, r)
			})))
			return mux
		}},
		{Name: "gin", Mount: func(m *session.Manager, h SessionHandler, path string) http.Handler {
			e := newGin()
			handle := func(c *gin.Context) {
				s := ginmw.SessionFrom(c)
				if s == nil || s != session.FromContext(c.Request.Context()) {
					c.String(http.StatusInternalServerError, "gin context and request context disagree")
					return
				}
				h(s, c.Writer, c.Request)
			}
			e.GET(path, ginmw.Session(m), handle)
			e.POST(path, ginmw.Session(m), handle)
			return e
		}},
		{Name: "echo", Mount: func(m *session.Manager, h SessionHandler, path string) http.Handler {
			e := newEcho()
			handle := func(c echo.Context) error {
				s := echomw.SessionFrom(c)
				if s == nil || s != session.FromContext(c.Request().Context()) {
					return c.String(http.StatusInternalServerError, "echo context and request context disagree")
				}
				h(s, c.Response(), c.Request())
				return nil
			}
			e.GET(path, handle, echomw.Session(m))
			e.POST(path, handle, echomw.Session(m))
			return e
		}},
	}
}
