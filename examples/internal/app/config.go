// Package app is the framework-neutral set-up of the reference app that
// examples/nethttp, examples/gin and examples/echo serve: configuration,
// the Redis connection, the middleware of each route and the HTTP server.
// Each main.go only mounts routes in its framework's idiom.
package app

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultAddr is the listen address when neither -addr nor PORT is given.
const DefaultAddr = ":8080"

// The environment variables Load reads.
const (
	// EnvPort names the port to listen on, as on most hosting platforms;
	// it gives the address ":"+PORT unless -addr is given.
	EnvPort = "PORT"
	// EnvRedisURL names a single Redis server as a redis:// or rediss://
	// URL (unix:// also works), which may carry a user, a password and a
	// database number.
	EnvRedisURL = "REDIS_URL"
	// EnvClusterAddrs names the seed nodes of a Redis Cluster, as a
	// comma-separated list of host:port. It takes precedence over
	// EnvRedisURL.
	EnvClusterAddrs = "REDIS_CLUSTER_ADDRS"
)

// Config is what the reference app is told from the command line and the
// environment. The zero value listens nowhere and uses an embedded
// miniredis; build a Config with Load.
type Config struct {
	// Addr is the TCP address to listen on, such as ":8080".
	Addr string
	// Redis holds the options parsed from REDIS_URL, or nil when it is
	// unset.
	Redis *redis.Options
	// ClusterAddrs lists the Redis Cluster seed nodes from
	// REDIS_CLUSTER_ADDRS, or nil when it is unset. When set, Connect uses
	// a Cluster and ignores Redis.
	ClusterAddrs []string
}

// Load builds a Config from args (the command line without the program
// name) and getenv (os.Getenv in main). The -addr flag wins over PORT,
// which wins over DefaultAddr. Load reports every malformed value as an
// error naming the flag or variable; for -h it returns an error wrapping
// flag.ErrHelp whose message is the usage text.
func Load(args []string, getenv func(string) string) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("redisware-example", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", DefaultAddr, "`address` to listen on; without it, :$"+EnvPort+" when "+EnvPort+" is set")
	// The flag package prints errors and usage to its output; Load returns
	// them instead, so that tests and main decide what is printed.
	var usage bytes.Buffer
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(&usage, "usage: %s [-addr host:port]\n", fs.Name())
		fs.SetOutput(&usage)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprintf(&usage, "environment: %s, %s (redis:// or rediss:// URL), %s (host:port,...)\n",
			EnvPort, EnvRedisURL, EnvClusterAddrs)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, &flagError{err: err, usage: strings.TrimSpace(usage.String())}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q: the only flag is -addr", fs.Args())
	}
	addrGiven := false
	fs.Visit(func(f *flag.Flag) { addrGiven = addrGiven || f.Name == "addr" })

	if port := strings.TrimSpace(getenv(EnvPort)); port != "" && !addrGiven {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return Config{}, fmt.Errorf("%s=%q: want a port number from 0 to 65535", EnvPort, port)
		}
		cfg.Addr = ":" + port
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return Config{}, fmt.Errorf("-addr %q: want host:port or :port: %w", cfg.Addr, err)
	}

	if v := strings.TrimSpace(getenv(EnvRedisURL)); v != "" {
		opt, err := redis.ParseURL(v)
		if err != nil {
			// url.Error repeats the whole URL, password included.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return Config{}, fmt.Errorf("%s: want redis://[user:password@]host:port[/db] or rediss://...: %w", EnvRedisURL, err)
		}
		cfg.Redis = opt
	}

	if v := strings.TrimSpace(getenv(EnvClusterAddrs)); v != "" {
		for a := range strings.SplitSeq(v, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			host, port, err := net.SplitHostPort(a)
			if err != nil || host == "" || port == "" {
				return Config{}, fmt.Errorf("%s: %q is not host:port", EnvClusterAddrs, a)
			}
			cfg.ClusterAddrs = append(cfg.ClusterAddrs, a)
		}
		if len(cfg.ClusterAddrs) == 0 {
			return Config{}, fmt.Errorf("%s=%q names no host:port", EnvClusterAddrs, v)
		}
	}
	return cfg, nil
}

// flagError is a command-line error that carries the usage text. For -h
// its message is the usage alone.
type flagError struct {
	err   error
	usage string
}

func (e *flagError) Error() string {
	if errors.Is(e.err, flag.ErrHelp) {
		return e.usage
	}
	return e.err.Error() + "\n" + e.usage
}

func (e *flagError) Unwrap() error { return e.err }
