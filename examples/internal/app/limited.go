package app

import (
	"time"

	"github.com/redisware/redisware/core/ratelimit"
)

// LimitedName is the name of the policy on GET /limited and of its one
// limit, as the RateLimit and RateLimit-Policy headers show it.
const LimitedName = "limited"

// NewLimited returns the rate limiter of GET /limited, which each app
// mounts with its framework's adapter: at most 5 requests in any 10
// seconds per client address (an exact sliding window log, which is what
// clients that count for themselves check), keyed on the connection's
// address, since the app's Settings trust no proxy, so X-Forwarded-For and
// X-Real-IP cannot pick a client's budget. Like every redisware limiter it
// fails open: if Redis cannot answer, requests pass and the error is
// logged.
func NewLimited(b Backend) (*ratelimit.Limiter, error) {
	return ratelimit.New(b.Client, ratelimit.Options{
		Settings:  b.Settings(),
		Name:      LimitedName,
		Algorithm: ratelimit.SlidingWindowLog,
		// A policy's one unnamed limit takes the policy's name in the headers.
		Limits: []ratelimit.Limit{{Rate: 5, Period: 10 * time.Second}},
	})
}
