package echomw

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/ratelimit"
)

// The hooks of a core's Options (Key, Cost, Scope, Principal, OnReject)
// take the *http.Request. The functions below turn a hook written for Echo,
// taking the echo.Context, into the core's form, so a hook can read what
// earlier middleware stored with c.Set and answer with c.JSON:
//
//	ratelimit.Options{Name: "api", Key: echomw.Key(func(c echo.Context) (string, error) { return c.Get("user").(string), nil })}
//
// They find the echo.Context through the request's context, where every
// middleware of this package puts it; a hook called outside such a
// middleware gets ErrNoEchoContext (Key) or the zero answer.

// ErrNoEchoContext is returned by a Key hook called on a request that did
// not pass through an echomw middleware.
var ErrNoEchoContext = errors.New("echomw: the request carries no echo.Context; mount the core with echomw")

type echoKey struct{}

// withContext makes c reachable from its request's context, once per
// request.
func withContext(c echo.Context) {
	r := c.Request()
	if old, _ := r.Context().Value(echoKey{}).(echo.Context); old != c {
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), echoKey{}, c)))
	}
}

// Context returns the echo.Context of a request that passed through an
// echomw middleware, or nil.
func Context(r *http.Request) echo.Context {
	c, _ := r.Context().Value(echoKey{}).(echo.Context)
	return c
}

// Key turns an Echo key function into a ratelimit.KeyFunc: "limit by the
// user my auth middleware found" is
// echomw.Key(func(c echo.Context) (string, error) { u, _ := c.Get("user").(string); return u, nil }).
// An empty key counts the request by its client address (see
// ratelimit.Options.Key).
func Key(f func(c echo.Context) (string, error)) ratelimit.KeyFunc {
	return func(r *http.Request) (string, error) {
		c := Context(r)
		if c == nil {
			return "", ErrNoEchoContext
		}
		return f(c)
	}
}

// Cost turns an Echo cost function into ratelimit.Options.Cost.
func Cost(f func(c echo.Context) int) func(*http.Request) int {
	return func(r *http.Request) int {
		if c := Context(r); c != nil {
			return f(c)
		}
		return 1
	}
}

// Scope turns an Echo scope function into idempotency.Options.Scope (or
// any hook that names who a request belongs to); "" means the core's
// default.
func Scope(f func(c echo.Context) string) func(*http.Request) string {
	return func(r *http.Request) string {
		if c := Context(r); c != nil {
			return f(c)
		}
		return ""
	}
}

// Principal turns an Echo function that names the authenticated user into
// idempotency.Options.Principal; "" means none.
func Principal(f func(c echo.Context) string) func(*http.Request) string { return Scope(f) }

// Choose turns an Echo function that names a request's plan into
// ratelimit.PlansOptions.Choose: ratelimit.PlansOptions{Choose:
// echomw.Choose(func(c echo.Context) string { p, _ := c.Get("plan").(string); return p })}.
func Choose(f func(c echo.Context) string) func(*http.Request) string { return Scope(f) }

// Predicate turns an Echo predicate into a core's request predicate, such
// as httpcache.Route.Skip or ratelimit.Options.Skip. (To skip any redisware
// middleware entirely, mount it with the Skipper option instead.)
func Predicate(f func(c echo.Context) bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if c := Context(r); c != nil {
			return f(c)
		}
		return false
	}
}

// OnReject turns an Echo rejection writer into core.Settings.OnReject, so a
// rejection can be answered with c.JSON; ErrorHandler calls it, with the
// rejection's header fields (Retry-After, RateLimit, ...) already set. A
// rejection outside Echo is written as rej.Write does.
func OnReject(f func(c echo.Context, rej *core.Rejection) error) func(http.ResponseWriter, *http.Request, *core.Rejection) {
	return func(w http.ResponseWriter, r *http.Request, rej *core.Rejection) {
		c := Context(r)
		if c == nil {
			rej.Write(w)
			return
		}
		if err := f(c, rej); err != nil {
			c.Logger().Error(err)
		}
	}
}

// KeyByRealIP returns a ratelimit.KeyFunc keyed on Echo's c.RealIP(). It
// is an explicit opt-in, for apps that have set e.IPExtractor
// (echo.ExtractIPFromXFFHeader with their trusted ranges, or
// echo.ExtractIPDirect): without one, c.RealIP() believes the
// X-Forwarded-For and X-Real-IP a client sends, and a client could pick its
// own budget. redisware's default key, the connection's address with
// core.Settings.TrustedProxies, needs no such care.
func KeyByRealIP() ratelimit.KeyFunc {
	return Key(func(c echo.Context) (string, error) {
		ip := c.RealIP()
		if ip == "" {
			return "", ratelimit.ErrNoKey
		}
		return "echo-ip:" + ip, nil
	})
}
