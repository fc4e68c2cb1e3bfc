package httpcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/internal/keys"
)

// scanCount is the COUNT hint of the SCAN and SSCAN calls of invalidation.
const scanCount = 500

// InvalidateURL forgets every stored variant of the absolute URL rawURL
// ("https://example.com/a?b=1"; the scheme is ignored, "//example.com/a"
// works too), in every instance's in-process tier as well. The query is
// canonicalised as for requests, so parameter order does not matter.
func (c *Cache) InvalidateURL(ctx context.Context, rawURL string) error {
	c.tel.invalidated(ctx, "url", 1)
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("httpcache: invalidate URL: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("httpcache: invalidate URL %q: an absolute URL with a host is needed", rawURL)
	}
	return c.forget(ctx, c.targetOf(strings.ToLower(u.Host), u.EscapedPath(), u.RawQuery).key)
}

// forget forgets the Redis keys ks (URLs or data keys), each with a
// script of its own so no command spans slots (see forgetKeys), then tells
// every instance's in-process tier.
func (c *Cache) forget(ctx context.Context, ks ...string) error {
	_, err := c.forgetKeys(ctx, c.client, ks)
	msgs := make([]string, len(ks))
	for i, k := range ks {
		msgs[i] = string(msgKey) + k
	}
	if perr := c.publish(ctx, msgs...); err == nil {
		err = perr
	}
	return err
}

// InvalidateTags forgets every response and value stored with any of
// tags, in every instance's in-process tier as well, and returns how many
// Redis entries it deleted. Each tag's index is first moved aside in one
// step (entries tagged from then on start a new index), then walked with
// SSCAN, each entry deleted by a command of its own: the index lives in
// its tag's slot, the entries in theirs, and no command spans two.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) (int, error) {
	c.tel.invalidated(ctx, "tag", len(tags))
	total := 0
	for _, tag := range tags {
		n, err := c.invalidateTag(ctx, tag)
		total += n
		if err != nil {
			return total, fmt.Errorf("httpcache: invalidate tag %q: %w", tag, err)
		}
	}
	return total, nil
}

// invalidateTag moves tag's index aside (tagtake.lua) and drains it, with
// any index an earlier invalidation of tag moved aside and did not finish:
// every entry it names is forgotten, then the moved index is deleted.
func (c *Cache) invalidateTag(ctx context.Context, tag string) (int, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	index := c.tagKey(tag)
	taken := c.space.Tagged(tag, ":t:"+hex.EncodeToString(rnd[:]))
	pending := c.space.Tagged(tag, ":t:p")
	var moved []string
	err := c.call.DoMeasured(ctx, c.tel.ops["invalidate"], func(ctx context.Context) error {
		v, err := tagTakeScript.Run(ctx, c.client, []string{index, taken, pending}).StringSlice()
		moved = v
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, taken := range moved {
		d, err := c.drainTaken(ctx, taken, pending)
		n += d
		if err != nil {
			return n, err
		}
	}
	return n, c.publish(ctx, string(msgTag)+tag)
}

// drainTaken forgets every entry of the moved index taken, then deletes it
// and its name in pending. It returns how many entries existed.
func (c *Cache) drainTaken(ctx context.Context, taken, pending string) (int, error) {
	n := 0
	var cursor uint64
	for {
		var members []string
		err := c.call.DoMeasured(ctx, c.tel.ops["invalidate"], func(ctx context.Context) error {
			var err error
			members, cursor, err = scanTaken(ctx, c.client, taken, cursor)
			return err
		})
		if err != nil {
			return n, err
		}
		d, err := c.forgetKeys(ctx, c.client, members)
		n += d
		if err != nil {
			return n, err
		}
		if cursor == 0 {
			break
		}
	}
	// Both in taken's slot; deleting twice is harmless, so go-redis may
	// re-send them.
	return n, c.call.DoMeasured(ctx, c.tel.ops["invalidate"], func(ctx context.Context) error {
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Unlink(ctx, taken)
			p.SRem(ctx, pending, taken)
			return nil
		})
		return err
	})
}

// scanTaken reads one page of the tag index taken aside, on its master
// (tagscan.lua).
func scanTaken(ctx context.Context, c redis.UniversalClient, taken string, cursor uint64) ([]string, uint64, error) {
	v, err := tagScanScript.Run(ctx, c, []string{taken}, cursor, scanCount).Slice()
	if err != nil {
		return nil, 0, err
	}
	if len(v) != 2 {
		return nil, 0, fmt.Errorf("httpcache: tagscan.lua answered %d values, want 2", len(v))
	}
	s, _ := v[0].(string)
	next, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("httpcache: tagscan.lua answered cursor %v: %w", v[0], err)
	}
	raw, _ := v[1].([]interface{})
	members := make([]string, 0, len(raw))
	for _, m := range raw {
		if s, ok := m.(string); ok {
			members = append(members, s)
		}
	}
	return members, next, nil
}

// forgetKeys deletes ks on node, in one pipeline of one script per key,
// each in its key's slot, which also sets a URL's generation anew (see
// forget.lua), so a fill that looked the URL up before cannot store
// afterwards (a value's load cannot either: its marker is deleted). It
// returns how many keys existed.
func (c *Cache) forgetKeys(ctx context.Context, node scriptNode, ks []string) (int, error) {
	if len(ks) == 0 {
		return 0, nil
	}
	calls := make([]scriptCall, len(ks))
	ttl := c.genTTL.Milliseconds()
	for i, k := range ks {
		args := []any{"", 0} // a value has no generation
		if !isDataKey(k) {
			args = []any{newToken(), ttl}
		}
		calls[i] = scriptCall{forgetScript, []string{k}, args}
	}
	// The count is atomic: a call abandoned at its deadline (a client
	// without ContextTimeoutEnabled) may still be running when it is read.
	var n atomic.Int64
	err := c.call.DoMeasured(ctx, c.tel.ops["invalidate"], func(ctx context.Context) error {
		replies, err := c.runScripts(ctx, node, calls)
		for _, r := range replies {
			v, _ := r.(int64)
			n.Add(v)
		}
		return err
	})
	return int(n.Load()), err
}

// InvalidatePrefix forgets every stored response whose path starts with
// prefix, in every instance's in-process tier as well, and returns how
// many URLs it deleted. prefix is a path ("/products/"), for every host,
// or an absolute URL ("https://example.com/products/", "//example.com/")
// for one host. It walks the keyspace with SCAN on every master (never
// KEYS), matching the escaped path each key shows after its hash tag.
// "/" forgets every response of the cache.
func (c *Cache) InvalidatePrefix(ctx context.Context, prefix string) (int, error) {
	c.tel.invalidated(ctx, "prefix", 1)
	host, path := "", prefix
	if strings.Contains(prefix, "//") {
		u, err := url.Parse(prefix)
		if err != nil || u.Host == "" {
			return 0, fmt.Errorf("httpcache: invalidate prefix %q: not a path or an absolute URL", prefix)
		}
		host, path = strings.ToLower(u.Host), u.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return 0, fmt.Errorf("httpcache: invalidate prefix %q: a path must start with /", prefix)
	}
	visible := visiblePath(path)
	exact := visible == keys.Escape(path) && host == ""
	pattern := strings.TrimSuffix(c.space.Pattern(), "*") + "{*}:p:" + keys.GlobEscape(visible) + "*"
	var total atomic.Int64
	err := c.eachMaster(ctx, func(ctx context.Context, node scriptNode) error {
		var cursor uint64
		for {
			var found []string
			err := c.call.DoMeasured(ctx, c.tel.ops["invalidate"], func(ctx context.Context) error {
				var err error
				found, cursor, err = node.Scan(ctx, cursor, pattern, scanCount).Result()
				return err
			})
			if err != nil {
				return err
			}
			if !exact && len(found) > 0 {
				found, err = c.filterURLs(ctx, node, found, host, path)
				if err != nil {
					return err
				}
			}
			n, err := c.forgetKeys(ctx, node, found)
			total.Add(int64(n))
			if err != nil {
				return err
			}
			if cursor == 0 {
				return nil
			}
		}
	})
	subject := path
	if host != "" {
		subject = "//" + host + path
	}
	if perr := c.publish(ctx, string(msgPrefix)+subject); err == nil {
		err = perr
	}
	if err != nil {
		err = fmt.Errorf("httpcache: invalidate prefix %q: %w", prefix, err)
	}
	return int(total.Load()), err
}

// filterURLs keeps the keys whose stored URL is on host ("" for any) and
// has a path starting with path: the key itself shows only the first
// bytes of the path, and no host.
func (c *Cache) filterURLs(ctx context.Context, node redis.Cmdable, ks []string, host, path string) ([]string, error) {
	cmds := make([]*redis.StringCmd, len(ks))
	err := c.call.DoMeasured(ctx, c.tel.ops["invalidate"], func(ctx context.Context) error {
		_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range ks {
				cmds[i] = p.HGet(ctx, k, "u")
			}
			return nil
		})
		if err == redis.Nil {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for i, cmd := range cmds {
		u := cmd.Val()
		slash := strings.IndexByte(u, '/')
		if slash < 0 {
			continue
		}
		if (host == "" || u[:slash] == host) && strings.HasPrefix(u[slash:], path) {
			out = append(out, ks[i])
		}
	}
	return out, nil
}

// eachMaster runs fn on every master of a Cluster (every shard of a
// Ring), or on the one server otherwise.
func (c *Cache) eachMaster(ctx context.Context, fn func(ctx context.Context, node scriptNode) error) error {
	switch cl := c.client.(type) {
	case *redis.ClusterClient:
		return cl.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return fn(ctx, node) })
	case *redis.Ring:
		return cl.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error { return fn(ctx, node) })
	}
	return fn(ctx, c.client)
}

// splitPrefix splits the subject of a prefix message, "//host/path" or
// "/path", into host ("" for any) and path.
func splitPrefix(s string) (host, path string) {
	if !strings.HasPrefix(s, "//") {
		return "", s
	}
	rest := s[2:]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return rest, "/"
	}
	return rest[:i], rest[i:]
}
