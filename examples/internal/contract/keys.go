package contract

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
)

// allKeys returns every key under prefix, on every master of a Cluster.
func allKeys(t *testing.T, c redis.UniversalClient, prefix string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	var mu sync.Mutex
	scan := func(ctx context.Context, node redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, prefix+"*", 500).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				out[k] = true
			}
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(t.Context(), c)
	}
	if err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return out
}

// testKeysExpire sends 60 distinct misses of GET /cached and checks that
// every key they made lives an hour at most: the cache's fill locks leave
// nothing long-lived behind.
func testKeysExpire(t *testing.T, c *client, srv *redistest.Server) {
	rdb := srv.Client()
	before := allKeys(t, rdb, srv.Prefix)
	for i := range 60 {
		q := "expiry-" + strconv.Itoa(i)
		wantCached(t, c.get(t, "/cached?q="+q, nil), q)
	}
	after := allKeys(t, rdb, srv.Prefix)
	n := 0
	for k := range after {
		if before[k] {
			continue
		}
		n++
		ttl, err := rdb.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", k, err)
		}
		if ttl == -2 {
			continue // expired meanwhile (go-redis reports -2 as is)
		}
		if ttl <= 0 || ttl > time.Hour {
			t.Errorf("key %s, written by a GET /cached miss, has TTL %v; want at most an hour", k, ttl)
		}
	}
	if n < 60 {
		t.Fatalf("60 misses made %d new keys; want at least one entry each", n)
	}
}
