package redistest

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN call made by the cleanup.
const scanCount = 500

// deleteKeys deletes every key whose name starts with prefix, which must
// hold no glob metacharacter. It walks the keyspace with SCAN, on every
// master of a Cluster. On a Cluster each UNLINK names one key, because the
// keys of one SCAN page may live in different slots.
func deleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) error {
	match := prefix + "*"
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return scanPages(ctx, c, match, func(keys []string) error {
			return c.Unlink(ctx, keys...).Err()
		})
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return scanPages(ctx, node, match, func(keys []string) error {
			_, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k)
				}
				return nil
			})
			return err
		})
	})
}

// scanPages calls del with each non-empty page of keys matching match on
// the node c. Deleting keys already returned does not disturb the SCAN.
func scanPages(ctx context.Context, c redis.Cmdable, match string, del func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := del(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
