package app

import (
	"net/http"
	"time"

	"github.com/redisware/redisware/core/ratelimit"
)

// LimitedName is the name of the policy on GET /limited and of its one
// limit, as the RateLimit and RateLimit-Policy headers show it.
const LimitedName = "limited"

// ItemsName is the name of the policy on GET /items/{id}.
const ItemsName = "items"

// AppLimitName is the name of the app-wide policy every route but
// GET /healthz passes first.
const AppLimitName = "app"

// AppLimitRate is how many requests one client address may send to one
// route in AppLimitWindow, before anything else costs Redis work.
const (
	AppLimitRate   = 2000
	AppLimitWindow = 10 * time.Second
)

// NewLimited returns the limiter of GET /limited: at most 5 requests in any
// 10 seconds per client address (an exact sliding window log, which is what
// clients that count for themselves check), keyed on the connection's
// address (the app trusts no proxy), so X-Forwarded-For and X-Real-IP
// cannot pick a client's budget. Like every redisware limiter it fails
// open: if Redis cannot answer, requests pass and the error is logged.
func NewLimited(b Backend) (*ratelimit.Limiter, error) {
	return ratelimit.New(b.Client, ratelimit.Options{
		Settings:  b.Settings(),
		Name:      LimitedName,
		Algorithm: ratelimit.SlidingWindowLog,
		// A policy's one unnamed limit takes the policy's name in the headers.
		Limits: []ratelimit.Limit{{Rate: 5, Period: 10 * time.Second}},
	})
}

// NewItems returns the limiter of GET /items/{id}: at most 20 requests in
// any 10 seconds per client address for the route, whatever the id (the
// route, "GET /items/{}", is part of the key, never the path), and the
// same budget in every framework on the same Redis.
func NewItems(b Backend) (*ratelimit.Limiter, error) {
	return ratelimit.New(b.Client, ratelimit.Options{
		Settings:  b.Settings(),
		Name:      ItemsName,
		Algorithm: ratelimit.SlidingWindowLog,
		Limits:    []ratelimit.Limit{{Rate: 20, Period: 10 * time.Second}},
		PerRoute:  true,
	})
}

// NewAppLimit returns the app-wide limiter, mounted outside everything
// else: AppLimitRate requests per AppLimitWindow per client address and
// route, so a flood is turned away before it costs any other Redis work.
// Requests that match no route share one budget (core.NoRoute): a client
// cannot mint fresh budgets by varying the path. GET /healthz is skipped.
func NewAppLimit(b Backend) (*ratelimit.Limiter, error) {
	return ratelimit.New(b.Client, ratelimit.Options{
		Settings: b.Settings(),
		Name:     AppLimitName,
		Limits:   []ratelimit.Limit{{Rate: AppLimitRate, Period: AppLimitWindow}},
		PerRoute: true,
		Skip:     func(r *http.Request) bool { return r.URL.Path == "/healthz" },
	})
}

// Item is the body of GET /items/{id}.
type Item struct {
	ID string `json:"id"`
}
