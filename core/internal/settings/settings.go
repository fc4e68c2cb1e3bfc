// Package settings turns the public core.Settings that every core's Options
// embeds into the values a core runs with: defaults filled in, trusted
// proxies parsed, and the one way to report a Redis failure and to write a
// rejection. Each core calls Resolve once, in its New.
package settings

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redisware/redisware/core"
	"github.com/redisware/redisware/core/internal/clientip"
	"github.com/redisware/redisware/core/internal/eviction"
	"github.com/redisware/redisware/core/internal/rediscall"
)

// Resolved is a core's view of its Settings, defaults applied.
type Resolved struct {
	// Component names the core in errors and log lines ("ratelimit").
	Component string
	// Client is the Redis client the core was given.
	Client redis.UniversalClient
	// Prefix starts every key (never empty).
	Prefix string
	// Call runs Redis calls under the Timeout.
	Call rediscall.Caller
	// Logger is never nil.
	Logger *slog.Logger
	// OnError may be nil.
	OnError func(ctx context.Context, err error)
	// MeterProvider and TracerProvider may be nil (the global ones).
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// IP finds client addresses through the trusted proxies, IPv6 kept
	// whole.
	IP *clientip.Resolver
	// TrustedProxies is the parsed list, for cores that need it elsewhere.
	TrustedProxies []string
	// Secret is the configured secret; nil when none was set.
	Secret []byte
	// OnReject may be nil.
	OnReject func(w http.ResponseWriter, r *http.Request, rej *core.Rejection)
}

// Resolve validates s for component (which must not be nil-clientless) and
// fills its defaults. The error names the field and wraps core.ErrConfig.
func Resolve(component string, client redis.UniversalClient, s core.Settings) (*Resolved, error) {
	if client == nil {
		return nil, fmt.Errorf("%s: %w: nil Redis client", component, core.ErrConfig)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	trusted, _ := core.ParseTrustedProxies(s.TrustedProxies) // validated above
	ip, err := clientip.New(trusted, 128)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: Settings.TrustedProxies: %w", component, core.ErrConfig, err)
	}
	r := &Resolved{
		Component:      component,
		Client:         client,
		Prefix:         s.Prefix,
		Call:           rediscall.New(client, s.Timeout),
		Logger:         s.Logger,
		OnError:        s.OnError,
		MeterProvider:  s.MeterProvider,
		TracerProvider: s.TracerProvider,
		IP:             ip,
		TrustedProxies: s.TrustedProxies,
		Secret:         s.Secret,
		OnReject:       s.OnReject,
	}
	if r.Prefix == "" {
		r.Prefix = core.DefaultPrefix
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r, nil
}

// Invalid returns the error of New for a field of the core's own Options
// that cannot work: "<component>: invalid configuration: Options.<field>
// <why>".
func (r *Resolved) Invalid(field, format string, args ...any) error {
	return Invalid(r.Component, field, format, args...)
}

// Invalid is Resolved.Invalid for checks made before Resolve.
func Invalid(component, field, format string, args ...any) error {
	return fmt.Errorf("%s: %w: Options.%s %s", component, core.ErrConfig, field, fmt.Sprintf(format, args...))
}

// Report logs a Redis failure at warn level, with attrs (never client
// input), and passes it to OnError.
func (r *Resolved) Report(ctx context.Context, msg string, err error, attrs ...slog.Attr) {
	r.Logger.LogAttrs(ctx, slog.LevelWarn, msg, append(attrs, slog.Any("error", err))...)
	if r.OnError != nil {
		r.OnError(ctx, err)
	}
}

// Reject writes rej through OnReject, else as a problem body.
func (r *Resolved) Reject(w http.ResponseWriter, req *http.Request, rej *core.Rejection) {
	if r.OnReject != nil {
		rej.SetHeader(w.Header())
		r.OnReject(w, req, rej)
		return
	}
	rej.Write(w)
}

// WarnIfEvicting checks, once and in the background, whether the Redis the
// core keeps its state in may evict that state under memory pressure: when
// its maxmemory-policy is allkeys-* or volatile-* (on a Cluster, any
// master's), it logs one warn-level line through Logger naming the
// component, the policy and what the core would lose, such as "sessions
// (users are logged out)". clients are the clients to check; none means
// Client. A policy that cannot be read is logged at debug level only, as
// is a policy that evicts nothing (package eviction). The check reads INFO
// memory on connections of its own, within a few seconds; the returned
// channel is closed when it is done, and New need not wait for it.
func (r *Resolved) WarnIfEvicting(what string, clients ...redis.UniversalClient) <-chan struct{} {
	if len(clients) == 0 {
		clients = []redis.UniversalClient{r.Client}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		eviction.Check(context.Background(), r.Logger, r.Component, what, clients...)
	}()
	return done
}
