// Package eviction tells a core, at start-up, whether the Redis it keeps
// its state in may evict that state under memory pressure.
//
// Redis picks what to drop when it reaches maxmemory by its
// maxmemory-policy: noeviction refuses writes instead, allkeys-* policies
// may drop any key, and volatile-* policies any key with a TTL, which is
// every key redisware writes. A cache is made to be evicted; sessions,
// idempotency records, locks, revocations and rate-limit counters are not,
// and losing one logs a user out, runs a retried request twice, lets two
// owners hold a lock, accepts a revoked token or hands out a fresh budget.
// Check reads the policy with INFO memory, which managed services allow
// where they disable CONFIG, on every master of a Cluster, and logs one
// warning when it may evict.
package eviction

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timeout bounds a whole Check: a server that does not answer in time is
// left unchecked.
const Timeout = 3 * time.Second

// Evicts reports whether policy may evict a key that has a TTL: every
// allkeys-* and volatile-* policy does (every redisware key has a TTL);
// noeviction does not.
func Evicts(policy string) bool {
	return strings.HasPrefix(policy, "allkeys-") || strings.HasPrefix(policy, "volatile-")
}

// Policies returns the maxmemory-policy of every server that holds the
// data of c, sorted and without duplicates: the server of a plain or a
// Sentinel failover client (its master), every master of a Cluster, every
// shard of a Ring. It reads INFO memory on a connection of its own, so the
// hooks installed on c (metrics, tracing, tests that count round trips)
// never see it.
func Policies(ctx context.Context, c redis.UniversalClient) ([]string, error) {
	var (
		mu  sync.Mutex
		out []string
	)
	read := func(ctx context.Context, node *redis.Client) error {
		p, err := policyOf(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		out = append(out, p)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, read)
	case *redis.Ring:
		err = c.ForEachShard(ctx, read)
	case *redis.Client:
		twin := twinOf(c.Options())
		err = read(ctx, twin)
		_ = twin.Close()
	default:
		var text string
		if text, err = c.Info(ctx, "memory").Result(); err == nil {
			var p string
			if p, err = parsePolicy(text); err == nil {
				out = append(out, p)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no server to ask")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// twinOf returns a client of its own on the server of o: the same address
// or dialer (a Sentinel failover client's dialer finds the current
// master), credentials, database and TLS, one connection, and none of the
// hooks, push handlers or client-side cache of the client o belongs to.
// It speaks RESP2, which every server and proxy does.
func twinOf(o *redis.Options) *redis.Client {
	return redis.NewClient(&redis.Options{
		Network:                    o.Network,
		Addr:                       o.Addr,
		Dialer:                     o.Dialer,
		Username:                   o.Username,
		Password:                   o.Password,
		CredentialsProvider:        o.CredentialsProvider,
		CredentialsProviderContext: o.CredentialsProviderContext,
		DB:                         o.DB,
		TLSConfig:                  o.TLSConfig,
		DialTimeout:                o.DialTimeout,
		Protocol:                   2,
		DisableIdentity:            true,
		ContextTimeoutEnabled:      true,
		MaxRetries:                 -1,
		PoolSize:                   1,
	})
}

// policyOf reads the maxmemory-policy of one server.
func policyOf(ctx context.Context, node *redis.Client) (string, error) {
	text, err := node.Info(ctx, "memory").Result()
	if err != nil {
		return "", err
	}
	return parsePolicy(text)
}

// parsePolicy finds the maxmemory_policy field of INFO memory.
func parsePolicy(info string) (string, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "maxmemory_policy:"); ok && v != "" {
			return v, nil
		}
	}
	return "", errors.New("INFO memory has no maxmemory_policy field")
}

// Check reads the maxmemory-policy of the servers of clients, within
// Timeout, and logs through logger one warn-level line when any may evict
// keys (Evicts), such as
//
//	session: Redis maxmemory-policy is allkeys-lru: under memory pressure Redis may evict sessions (users are logged out); use noeviction for this data, or a separate Redis for the cache
//
// where component names the core and what says what it would lose. When
// none may (noeviction), or no policy can be read (a server that does not
// answer, or one that does not report it), it logs one debug-level line
// and nothing else: the check is advice, never an error. It returns once
// it has logged.
func Check(ctx context.Context, logger *slog.Logger, component, what string, clients ...redis.UniversalClient) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var (
		mu       sync.Mutex
		policies []string
		errs     []error
		wg       sync.WaitGroup
	)
	for _, c := range clients {
		wg.Go(func() {
			ps, err := Policies(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			policies = append(policies, ps...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	slices.Sort(policies)
	policies = slices.Compact(policies)
	var evicting []string
	for _, p := range policies {
		if Evicts(p) {
			evicting = append(evicting, p)
		}
	}
	switch {
	case len(evicting) > 0:
		logger.LogAttrs(ctx, slog.LevelWarn,
			fmt.Sprintf("%s: Redis maxmemory-policy is %s: under memory pressure Redis may evict %s; use noeviction for this data, or a separate Redis for the cache",
				component, strings.Join(evicting, ", "), what),
			slog.String("policy", strings.Join(evicting, ",")))
	case len(errs) > 0:
		logger.LogAttrs(ctx, slog.LevelDebug, component+": the Redis maxmemory-policy could not be read; not checked",
			slog.Any("error", errors.Join(errs...)))
	default:
		logger.LogAttrs(ctx, slog.LevelDebug, component+": Redis maxmemory-policy is "+strings.Join(policies, ", ")+": nothing is evicted",
			slog.String("policy", strings.Join(policies, ",")))
	}
}
