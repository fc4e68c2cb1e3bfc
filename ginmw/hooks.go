package ginmw

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
)

// The hooks of a core's Options (Key, Cost, Scope, Principal, OnReject)
// take the *http.Request. The functions below turn a hook written for Gin,
// taking the *gin.Context, into the core's form, so a hook can read what
// earlier handlers stored with c.Set and answer with c.JSON:
//
//	ratelimit.Options{Name: "api", Key: ginmw.Key(func(c *gin.Context) (string, error) { return c.GetString("user"), nil })}
//
// They find the *gin.Context through the request's context, where every
// middleware of this package puts it; a hook called outside such a
// middleware gets ErrNoGinContext (Key) or the zero answer.

// ErrNoGinContext is returned by a Key hook called on a request that did
// not pass through a ginmw middleware.
var ErrNoGinContext = errors.New("ginmw: the request carries no *gin.Context; mount the core with ginmw")

type ginKey struct{}

// withContext makes c reachable from c.Request's context, once per request.
func withContext(c *gin.Context) {
	if c.Request.Context().Value(ginKey{}) == nil {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), ginKey{}, c))
	}
}

// Context returns the *gin.Context of a request that passed through a
// ginmw middleware, or nil.
func Context(r *http.Request) *gin.Context {
	c, _ := r.Context().Value(ginKey{}).(*gin.Context)
	return c
}

// Key turns a Gin key function into a ratelimit.KeyFunc: "limit by the
// user my auth middleware found" is
// ginmw.Key(func(c *gin.Context) (string, error) { return c.GetString("user"), nil }).
// An empty key counts the request by its client address (see
// ratelimit.Options.Key).
func Key(f func(c *gin.Context) (string, error)) ratelimit.KeyFunc {
	return func(r *http.Request) (string, error) {
		c := Context(r)
		if c == nil {
			return "", ErrNoGinContext
		}
		return f(c)
	}
}

// Cost turns a Gin cost function into ratelimit.Options.Cost.
func Cost(f func(c *gin.Context) int) func(*http.Request) int {
	return func(r *http.Request) int {
		if c := Context(r); c != nil {
			return f(c)
		}
		return 1
	}
}

// Scope turns a Gin scope function into idempotency.Options.Scope (or any
// hook that names who a request belongs to); "" means the core's default.
func Scope(f func(c *gin.Context) string) func(*http.Request) string {
	return func(r *http.Request) string {
		if c := Context(r); c != nil {
			return f(c)
		}
		return ""
	}
}

// Principal turns a Gin function that names the authenticated user into
// idempotency.Options.Principal; "" means none.
func Principal(f func(c *gin.Context) string) func(*http.Request) string { return Scope(f) }

// Choose turns a Gin function that names a request's plan into
// ratelimit.PlansOptions.Choose: ratelimit.PlansOptions{Choose:
// ginmw.Choose(func(c *gin.Context) string { return c.GetString("plan") })}.
func Choose(f func(c *gin.Context) string) func(*http.Request) string { return Scope(f) }

// Predicate turns a Gin predicate into a core's request predicate, such as
// httpcache.Route.Skip or ratelimit.Options.Skip. (To skip any redisware
// middleware entirely, mount it with the Skip option instead.)
func Predicate(f func(c *gin.Context) bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if c := Context(r); c != nil {
			return f(c)
		}
		return false
	}
}

// OnReject turns a Gin rejection writer into core.Settings.OnReject, so a
// rejection can be answered with c.JSON; the rejection's header fields
// (Retry-After, RateLimit, ...) are already set, and the chain is aborted
// afterwards. A rejection outside Gin is written as rej.Write does.
func OnReject(f func(c *gin.Context, rej *core.Rejection)) func(http.ResponseWriter, *http.Request, *core.Rejection) {
	return func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
		c := Context(r)
		if c == nil {
			rej.Write(w)
			return
		}
		f(c, rej)
	}
}

// KeyByClientIP returns a ratelimit.KeyFunc keyed on Gin's c.ClientIP().
// It is an explicit opt-in, for apps that have configured Gin's trusted
// proxies (engine.SetTrustedProxies, TrustedPlatform): by default Gin
// trusts every proxy, so c.ClientIP() believes any X-Forwarded-For a client
// sends, and a client could pick its own budget. redisware's default key,
// the connection's address with core.Settings.TrustedProxies, needs no
// such care.
func KeyByClientIP() ratelimit.KeyFunc {
	return Key(func(c *gin.Context) (string, error) {
		ip := c.ClientIP()
		if ip == "" {
			return "", ratelimit.ErrNoKey
		}
		return "gin-ip:" + ip, nil
	})
}
