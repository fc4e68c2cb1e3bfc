package main

// The -redisonly rows leave HTTP and both middlewares out: -c goroutines
// send, in a closed loop, the very Redis calls each library makes for one
// request of a scenario, on sessions shaped like the HTTP rows' (the same
// fields, scs's gob encoding), so that Redis is saturated and its CPU time
// per request is all that differs. redisware's calls are its scripts, read
// from this checkout's core/session (EVALSHA, with the arguments
// core/session passes); scs's are goredisstore's GET and SET.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/bench/internal/harness"
)

// redisOnlyCase is what one library sends to Redis for one request of a
// scenario, on the session of goroutine i.
type redisOnlyCase struct {
	scenario, library string
	setup             func(ctx context.Context, rdb *redis.Client, key string) error
	request           func(ctx context.Context, rdb *redis.Client, key string) error
}

func redisOnlyCases(dir string) ([]redisOnlyCase, error) {
	script := func(name string) (*redis.Script, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("%w (run from bench/, or set -session-dir)", err)
		}
		return redis.NewScript(string(b)), nil
	}
	load, err := script("load.lua")
	if err != nil {
		return nil, err
	}
	save, err := script("save.lua")
	if err != nil {
		return nil, err
	}
	idle := harness.SessionIdleTimeout.Milliseconds()
	// A guest's session as core/session stores it for the HTTP rows.
	rediswareSession := func(ctx context.Context, rdb *redis.Client, key string) error {
		now := time.Now().UnixMilli()
		return rdb.HSet(ctx, key, "_c", now, "_s", now, "_d", now+harness.SessionLifetime.Milliseconds(),
			"v:n", "7", "v:name", `"client-7"`, "v:theme", `"dark"`, "v:last", "0").Err()
	}
	// The same session as scs stores it: its gob encoding of the deadline
	// and the values.
	scsSession := func(ctx context.Context, rdb *redis.Client, key string) error {
		b, err := scs.GobCodec{}.Encode(time.Now().Add(harness.SessionLifetime), map[string]interface{}{
			"n": int64(7), "name": "client-7", "theme": "dark", "last": int64(0),
		})
		if err != nil {
			return err
		}
		return rdb.Set(ctx, key, b, harness.SessionIdleTimeout).Err()
	}
	// LoadAndSave with an IdleTimeout: GET at the start, SET of the whole
	// session (re-encoded) at the end, whatever the handler did.
	scsRequest := func(ctx context.Context, rdb *redis.Client, key string) error {
		b, err := rdb.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		deadline, values, err := scs.GobCodec{}.Decode(b)
		if err != nil {
			return err
		}
		values["n"] = values["n"].(int64) + 1
		if b, err = (scs.GobCodec{}).Encode(deadline, values); err != nil {
			return err
		}
		return rdb.Set(ctx, key, b, harness.SessionIdleTimeout).Err()
	}
	var seq atomic.Int64
	return []redisOnlyCase{
		{"read", "redisware", rediswareSession, func(ctx context.Context, rdb *redis.Client, key string) error {
			return load.Run(ctx, rdb, []string{key, key + ":r"}, "", idle, "").Err()
		}},
		{"read", "scs", scsSession, scsRequest},
		{"put", "redisware", rediswareSession, func(ctx context.Context, rdb *redis.Client, key string) error {
			return save.Run(ctx, rdb, []string{key, key + ":r"}, "", idle, "", "", 1, "v:last", seq.Add(1)).Err()
		}},
		{"put", "scs", scsSession, scsRequest},
		{"incr", "redisware", rediswareSession, func(ctx context.Context, rdb *redis.Client, key string) error {
			return load.Run(ctx, rdb, []string{key, key + ":r"}, "", idle, "", "v:n", 1).Err()
		}},
		{"incr", "scs", scsSession, scsRequest},
	}, nil
}

// runRedisOnly measures each case from c goroutines for d, rounds times,
// the cases taking turns, and prints the medians with their ranges.
func runRedisOnly(d time.Duration, c int, warm time.Duration, rounds int, dir string) error {
	ctx := context.Background()
	env, err := harness.OpenSessions(ctx)
	if err != nil {
		return err
	}
	defer env.Close()
	cases, err := redisOnlyCases(dir)
	if err != nil {
		return err
	}
	prefix := env.Prefix("redisonly")
	defer func() { _, _ = env.Cleanup(ctx) }()
	type result struct{ perSec, redisCPU, exec []float64 }
	results := make([]result, len(cases))
	for round := -1; round < rounds; round++ {
		for i, cs := range cases {
			keys := make([]string, c)
			for g := range keys {
				keys[g] = prefix + cs.library + ":{" + strconv.Itoa(g) + "}"
				if err := cs.setup(ctx, env.Client, keys[g]); err != nil {
					return err
				}
			}
			dur := d
			if round < 0 {
				dur = warm // loads the scripts, dials the connections
			}
			n, cpu, exec, elapsed, err := env.Closed(ctx, c, dur, func(g int) error { return cs.request(ctx, env.Client, keys[g]) })
			if err != nil {
				return fmt.Errorf("%s/%s: %w", cs.scenario, cs.library, err)
			}
			if round < 0 {
				continue
			}
			results[i].perSec = append(results[i].perSec, float64(n)/elapsed.Seconds())
			results[i].redisCPU = append(results[i].redisCPU, harness.Micros(cpu)/float64(n))
			results[i].exec = append(results[i].exec, harness.Micros(exec)/float64(n))
		}
	}
	fmt.Printf("%s %s/%s, GOMAXPROCS=%d; Redis %s at %s; Redis alone: %d goroutines each on a session of its own, %v per row",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), env.RedisVersion, env.Addr, c, d)
	if rounds > 1 {
		fmt.Printf("; median of %d rounds (range)", rounds)
	}
	fmt.Print("\n\n| scenario | library | what is sent | requests/s | Redis CPU µs/request | Redis exec µs/request |\n|---|---|---|---:|---:|---:|\n")
	value := func(f float64) float64 { return f }
	for i, cs := range cases {
		what := "GET, then SET of the re-encoded session"
		if cs.library == "redisware" {
			what = map[string]string{"read": "EVALSHA load.lua", "put": "EVALSHA save.lua (not loaded)", "incr": "EVALSHA load.lua with an increment"}[cs.scenario]
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", cs.scenario, cs.library, what,
			harness.Spread(results[i].perSec, "%.0f", value), harness.Spread(results[i].redisCPU, "%.2f", value),
			harness.Spread(results[i].exec, "%.2f", value))
	}
	return nil
}
