// Command proxy is a caching reverse proxy: any HTTP service behind it
// gains a shared cache in Redis (core/httpcache), made of
// net/http/httputil.ReverseProxy and the nethttp.HTTPCache middleware.
//
//	go run ./examples/proxy -upstream http://127.0.0.1:9000 -addr :8080
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/proxy -upstream http://api.internal:9000
//
// It follows HTTP semantics alone: what the upstream's Cache-Control,
// Expires, Vary, ETag and Last-Modified say, with no default freshness.
// Every method passes through; GET and HEAD are answered from the cache
// when HTTP allows, and a successful unsafe request invalidates its URL.
// Stale responses are kept an hour, to be revalidated with a conditional
// request and to answer when the upstream fails (unless they forbid it
// with must-revalidate and the like). Surrogate-Control, as CDNs read it,
// wins over Cache-Control. Responses carry Cache-Status
// (`redisware-proxy; hit; ttl=...`).
//
// Redis settings are the reference app's: REDIS_URL, REDIS_CLUSTER_ADDRS,
// or an embedded miniredis when neither is set; -addr or PORT picks the
// listen address. -upstream (or UPSTREAM_URL) is required.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redisware/redisware/core/httpcache"
	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/nethttp"
)

// EnvUpstream names the upstream URL when -upstream is not given.
const EnvUpstream = "UPSTREAM_URL"

// keepStale is how long a stale response is kept to be revalidated (or to
// answer a request with max-stale).
const keepStale = time.Hour

// staleIfError is how long a stale response may answer in place of an
// upstream error (a 5xx, or no answer: 502), when the response did not
// forbid it, as RFC 9111 allows a cache cut off from its origin.
const staleIfError = time.Hour

func main() {
	upstream, rest, err := upstreamFlag(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg, err := app.Load(rest, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "  -upstream URL\n    \tthe service to proxy and cache (or "+EnvUpstream+")")
			return
		}
		os.Exit(2)
	}
	if upstream == nil {
		fmt.Fprintln(os.Stderr, "proxy: -upstream URL (or "+EnvUpstream+") is required")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("app", "proxy")
	slog.SetDefault(logger)
	if err := run(cfg, upstream, logger); err != nil {
		logger.Error("exiting", "error", err)
		os.Exit(1)
	}
}

func run(cfg app.Config, upstream *url.URL, logger *slog.Logger) error {
	client, closeRedis, err := app.Connect(cfg, logger)
	if err != nil {
		return err
	}
	defer closeRedis()
	h, cache, err := newProxy(upstream, app.Backend{Client: client}, logger)
	if err != nil {
		return err
	}
	defer cache.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("proxying", "upstream", upstream.Redacted())
	return app.Run(ctx, cfg.Addr, h, logger)
}

// newProxy returns the caching reverse proxy to upstream on b, and its
// cache (for invalidation, and to Close).
func newProxy(upstream *url.URL, b app.Backend, logger *slog.Logger) (http.Handler, *httpcache.Cache, error) {
	settings := b.Settings()
	settings.Logger = logger
	cache, err := httpcache.New(b.Client, httpcache.Options{
		Settings: settings, Name: "proxy", StatusName: "redisware-proxy", KeepStale: keepStale,
		Route: httpcache.Route{StaleIfError: staleIfError, SurrogateControl: true},
	})
	if err != nil {
		return nil, nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream) // Host too: the upstream sees its own name
			pr.SetXForwarded()
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return nethttp.HTTPCache(cache)(rp), cache, nil
}

// upstreamFlag takes -upstream URL (or -upstream=URL, or the UPSTREAM_URL
// variable) out of args and returns it with the arguments left for
// app.Load. The URL must be absolute http or https. A nil URL means none
// was given.
func upstreamFlag(args []string, getenv func(string) string) (*url.URL, []string, error) {
	raw := strings.TrimSpace(getenv(EnvUpstream))
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "upstream" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, nil, errors.New("-upstream needs a URL")
			}
			i++
			value = args[i]
		}
		raw = value
	}
	if raw == "" {
		return nil, rest, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("-upstream %q: want an absolute http:// or https:// URL", raw)
	}
	return u, rest, nil
}
