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
	// comma-separated list of host:port.
	EnvClusterAddrs = "REDIS_CLUSTER_ADDRS"
	// EnvSentinelAddrs names the sentinels that monitor a Redis master, as
	// a comma-separated list of host:port; the client follows the master
	// they name through failovers.
	EnvSentinelAddrs = "REDIS_SENTINEL_ADDRS"
	// EnvSentinelMaster names the master the sentinels monitor; empty
	// means DefaultSentinelMaster.
	EnvSentinelMaster = "REDIS_SENTINEL_MASTER"
	// EnvPassword is the password of the Redis data nodes (the master and
	// its replicas, or the Cluster's nodes), for EnvSentinelAddrs and
	// EnvClusterAddrs; a REDIS_URL carries its own.
	EnvPassword = "REDIS_PASSWORD"
	// EnvSentinelPassword is the password of the sentinels themselves,
	// when they require one.
	EnvSentinelPassword = "REDIS_SENTINEL_PASSWORD"
)

// DefaultSentinelMaster is the master name when EnvSentinelMaster is
// empty.
const DefaultSentinelMaster = "mymaster"

// Sentinel is a master found through Redis Sentinel.
type Sentinel struct {
	// Addrs are the sentinels' host:port.
	Addrs []string
	// Master is the name of the master they monitor.
	Master string
	// Password authenticates to the master and its replicas.
	Password string
	// SentinelPassword authenticates to the sentinels.
	SentinelPassword string
}

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
	// REDIS_CLUSTER_ADDRS, or nil when it is unset.
	ClusterAddrs []string
	// Sentinel is the master named by REDIS_SENTINEL_ADDRS and
	// REDIS_SENTINEL_MASTER, or nil when REDIS_SENTINEL_ADDRS is unset.
	Sentinel *Sentinel
	// Password is REDIS_PASSWORD, for the Cluster's nodes or Sentinel's
	// master and replicas.
	Password string
}

// Load builds a Config from args (the command line without the program
// name) and getenv (os.Getenv in main). The -addr flag wins over PORT,
// which wins over DefaultAddr. At most one Redis topology may be set
// (REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS): more is an
// error naming them. Load reports every malformed value as an error naming
// the flag or variable; for -h it returns an error wrapping flag.ErrHelp
// whose message is the usage text.
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
		fmt.Fprintf(&usage, "environment: %s; one of %s (redis:// or rediss:// URL), %s (host:port,...) or %s (host:port,... with %s, default %s); %s, %s\n",
			EnvPort, EnvRedisURL, EnvClusterAddrs, EnvSentinelAddrs, EnvSentinelMaster, DefaultSentinelMaster, EnvPassword, EnvSentinelPassword)
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

	var topologies []string
	for _, name := range []string{EnvRedisURL, EnvClusterAddrs, EnvSentinelAddrs} {
		if strings.TrimSpace(getenv(name)) != "" {
			topologies = append(topologies, name)
		}
	}
	if len(topologies) > 1 {
		return Config{}, fmt.Errorf("%s are set; set only one Redis topology", strings.Join(topologies, " and "))
	}
	cfg.Password = getenv(EnvPassword)

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
		addrs, err := hostPorts(EnvClusterAddrs, v)
		if err != nil {
			return Config{}, err
		}
		cfg.ClusterAddrs = addrs
	}
	if v := strings.TrimSpace(getenv(EnvSentinelAddrs)); v != "" {
		addrs, err := hostPorts(EnvSentinelAddrs, v)
		if err != nil {
			return Config{}, err
		}
		cfg.Sentinel = &Sentinel{
			Addrs:            addrs,
			Master:           strings.TrimSpace(getenv(EnvSentinelMaster)),
			Password:         cfg.Password,
			SentinelPassword: getenv(EnvSentinelPassword),
		}
		if cfg.Sentinel.Master == "" {
			cfg.Sentinel.Master = DefaultSentinelMaster
		}
	}
	return cfg, nil
}

// hostPorts parses the comma-separated host:port list v of the variable
// name.
func hostPorts(name, v string) ([]string, error) {
	var out []string
	for a := range strings.SplitSeq(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%s: %q is not host:port", name, a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s=%q names no host:port", name, v)
	}
	return out, nil
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
