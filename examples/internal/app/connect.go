package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// pingTimeout bounds the start-up check that Redis answers.
const pingTimeout = 2 * time.Second

// Connect returns a client for cfg and a function that closes it and
// everything Connect started. It builds a Cluster client when
// cfg.ClusterAddrs is set, a Sentinel failover client when cfg.Sentinel is
// set, else a client on cfg.Redis, else it starts an
// embedded miniredis, so the app runs on a bare machine, and logs one line
// saying so. Every client has ContextTimeoutEnabled set, so request
// deadlines bound Redis calls. Connect returns an error when Redis (every
// master, on a Cluster) does not answer PING within 2 seconds.
func Connect(cfg Config, logger *slog.Logger) (redis.UniversalClient, func(), error) {
	if logger == nil {
		logger = slog.Default()
	}
	var (
		client redis.UniversalClient
		where  string
		mini   *miniredis.Miniredis
	)
	switch {
	case len(cfg.ClusterAddrs) > 0:
		client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 cfg.ClusterAddrs,
			Password:              cfg.Password,
			ContextTimeoutEnabled: true,
		})
		where = EnvClusterAddrs + "=" + strings.Join(cfg.ClusterAddrs, ",")
	case cfg.Sentinel != nil:
		client = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            cfg.Sentinel.Master,
			SentinelAddrs:         cfg.Sentinel.Addrs,
			Password:              cfg.Sentinel.Password,
			SentinelPassword:      cfg.Sentinel.SentinelPassword,
			ContextTimeoutEnabled: true,
		})
		where = "master " + cfg.Sentinel.Master + " of " + EnvSentinelAddrs + "=" + strings.Join(cfg.Sentinel.Addrs, ",")
	case cfg.Redis != nil:
		opt := *cfg.Redis // keep the caller's options as they were
		opt.ContextTimeoutEnabled = true
		client = redis.NewClient(&opt)
		where = EnvRedisURL + " (" + opt.Addr + ")" // never the URL: it may hold a password
	default:
		var err error
		mini, err = miniredis.Run()
		if err != nil {
			return nil, nil, fmt.Errorf("starting an embedded miniredis: %w", err)
		}
		logger.Info("no "+EnvRedisURL+", "+EnvClusterAddrs+" or "+EnvSentinelAddrs+" set: using an embedded miniredis", "addr", mini.Addr())
		client = redis.NewClient(&redis.Options{
			Addr:                  mini.Addr(),
			ContextTimeoutEnabled: true,
		})
		where = "the embedded miniredis at " + mini.Addr()
	}
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			_ = client.Close()
			if mini != nil {
				mini.Close()
			}
		})
	}
	if err := ping(client); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("redis at %s did not answer PING within %v: %w", where, pingTimeout, err)
	}
	return client, closeAll, nil
}

// ping checks that c answers within pingTimeout: every master of a
// Cluster, which must have at least one.
func ping(c redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Ping(ctx).Err()
	}
	var masters atomic.Int32
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		masters.Add(1)
		return node.Ping(ctx).Err()
	})
	if err == nil && masters.Load() == 0 {
		err = errors.New("the cluster has no master serving slots")
	}
	return err
}
