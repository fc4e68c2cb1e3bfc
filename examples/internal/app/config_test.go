package app

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	type redisWant struct {
		addr, user, password string
		db                   int
		tls                  bool
	}
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		addr     string     // want, when no error
		redis    *redisWant // want; nil means no REDIS_URL options
		cluster  []string   // want
		sentinel *Sentinel  // want; nil means none
		err      []string   // substrings of the wanted error; nil means no error
		secret   string     // must not appear in the error
	}{
		{name: "defaults", addr: ":8080"},
		{name: "PORT", env: map[string]string{"PORT": "9000"}, addr: ":9000"},
		{name: "PORT zero", env: map[string]string{"PORT": "0"}, addr: ":0"},
		{name: "-addr wins over PORT", args: []string{"-addr", "127.0.0.1:7000"}, env: map[string]string{"PORT": "9000"}, addr: "127.0.0.1:7000"},
		{name: "-addr=", args: []string{"-addr=:7001"}, addr: ":7001"},
		{name: "bad PORT", env: map[string]string{"PORT": "http"}, err: []string{"PORT", `"http"`}},
		{name: "PORT out of range", env: map[string]string{"PORT": "65536"}, err: []string{"PORT", "65536"}},
		{name: "-addr without port", args: []string{"-addr", "8080"}, err: []string{"-addr", `"8080"`, "missing port"}},
		{name: "unknown flag", args: []string{"-port", "1"}, err: []string{"-port", "usage:", "-addr"}},
		{name: "extra argument", args: []string{"serve"}, err: []string{`"serve"`}},
		{
			name:  "REDIS_URL",
			env:   map[string]string{"REDIS_URL": "redis://app:s3cret@127.0.0.1:6390/3"},
			addr:  ":8080",
			redis: &redisWant{addr: "127.0.0.1:6390", user: "app", password: "s3cret", db: 3},
		},
		{
			name:  "REDIS_URL with TLS and default port",
			env:   map[string]string{"REDIS_URL": "rediss://redis.example.com"},
			addr:  ":8080",
			redis: &redisWant{addr: "redis.example.com:6379", tls: true},
		},
		{name: "REDIS_URL without scheme", env: map[string]string{"REDIS_URL": "localhost:6379"}, err: []string{"REDIS_URL", "invalid URL scheme"}},
		{name: "REDIS_URL bad db", env: map[string]string{"REDIS_URL": "redis://:s3cret@host:6379/zero"}, err: []string{"REDIS_URL", "database"}, secret: "s3cret"},
		{name: "REDIS_URL unparsable", env: map[string]string{"REDIS_URL": "redis://u:s3cret@[::1"}, err: []string{"REDIS_URL", "missing ']'"}, secret: "s3cret"},
		{
			name:    "REDIS_CLUSTER_ADDRS",
			env:     map[string]string{"REDIS_CLUSTER_ADDRS": " 10.0.0.1:7000, 10.0.0.2:7001,,[::1]:7002 "},
			addr:    ":8080",
			cluster: []string{"10.0.0.1:7000", "10.0.0.2:7001", "[::1]:7002"},
		},
		{name: "REDIS_CLUSTER_ADDRS without port", env: map[string]string{"REDIS_CLUSTER_ADDRS": "10.0.0.1:7000,10.0.0.2"}, err: []string{"REDIS_CLUSTER_ADDRS", `"10.0.0.2"`}},
		{name: "REDIS_CLUSTER_ADDRS without host", env: map[string]string{"REDIS_CLUSTER_ADDRS": ":7000"}, err: []string{"REDIS_CLUSTER_ADDRS", `":7000"`}},
		{name: "REDIS_CLUSTER_ADDRS only commas", env: map[string]string{"REDIS_CLUSTER_ADDRS": ", ,"}, err: []string{"REDIS_CLUSTER_ADDRS", "no host:port"}},
		{
			name:     "REDIS_SENTINEL_ADDRS",
			env:      map[string]string{"REDIS_SENTINEL_ADDRS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_PASSWORD": "data", "REDIS_SENTINEL_PASSWORD": "sent"},
			addr:     ":8080",
			sentinel: &Sentinel{Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, Master: "mymaster", Password: "data", SentinelPassword: "sent"},
		},
		{
			name:     "REDIS_SENTINEL_MASTER",
			env:      map[string]string{"REDIS_SENTINEL_ADDRS": "10.0.0.1:26379", "REDIS_SENTINEL_MASTER": " orders "},
			addr:     ":8080",
			sentinel: &Sentinel{Addrs: []string{"10.0.0.1:26379"}, Master: "orders"},
		},
		{name: "REDIS_SENTINEL_ADDRS without port", env: map[string]string{"REDIS_SENTINEL_ADDRS": "10.0.0.1"}, err: []string{"REDIS_SENTINEL_ADDRS", `"10.0.0.1"`}},
		{
			name: "two topologies",
			env:  map[string]string{"REDIS_URL": "redis://:s3cret@127.0.0.1:6379", "REDIS_CLUSTER_ADDRS": "10.0.0.1:7000"},
			err:  []string{"REDIS_URL and REDIS_CLUSTER_ADDRS are set", "only one"}, secret: "s3cret",
		},
		{
			name: "three topologies",
			env:  map[string]string{"REDIS_URL": "redis://127.0.0.1:6379", "REDIS_CLUSTER_ADDRS": "10.0.0.1:7000", "REDIS_SENTINEL_ADDRS": "10.0.0.1:26379"},
			err:  []string{"REDIS_URL and REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS are set"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.args, func(k string) string { return tc.env[k] })
			if tc.err != nil {
				if err == nil {
					t.Fatalf("Load = %+v, nil; want an error containing %q", cfg, tc.err)
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
					t.Errorf("error %q reveals the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Addr != tc.addr {
				t.Errorf("Addr = %q, want %q", cfg.Addr, tc.addr)
			}
			if !slices.Equal(cfg.ClusterAddrs, tc.cluster) {
				t.Errorf("ClusterAddrs = %q, want %q", cfg.ClusterAddrs, tc.cluster)
			}
			switch {
			case tc.sentinel == nil && cfg.Sentinel != nil:
				t.Errorf("Sentinel = %+v, want nil", *cfg.Sentinel)
			case tc.sentinel != nil && (cfg.Sentinel == nil || !slices.Equal(cfg.Sentinel.Addrs, tc.sentinel.Addrs) ||
				cfg.Sentinel.Master != tc.sentinel.Master || cfg.Sentinel.Password != tc.sentinel.Password ||
				cfg.Sentinel.SentinelPassword != tc.sentinel.SentinelPassword):
				t.Errorf("Sentinel = %+v, want %+v", cfg.Sentinel, *tc.sentinel)
			}
			switch o := cfg.Redis; {
			case tc.redis == nil && o != nil:
				t.Errorf("Redis = %+v, want nil", o)
			case tc.redis != nil && o == nil:
				t.Errorf("Redis = nil, want %+v", *tc.redis)
			case tc.redis != nil:
				got := redisWant{addr: o.Addr, user: o.Username, password: o.Password, db: o.DB, tls: o.TLSConfig != nil}
				if got != *tc.redis {
					t.Errorf("Redis = %+v, want %+v", got, *tc.redis)
				}
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	_, err := Load([]string{"-h"}, func(string) string { return "" })
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(-h) error = %v, want one wrapping flag.ErrHelp", err)
	}
	for _, s := range []string{"usage:", "-addr", "PORT", "REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "REDIS_PASSWORD"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("help %q does not mention %s", err, s)
		}
	}
	if strings.Contains(err.Error(), "help requested") {
		t.Errorf("help %q should be the usage alone", err)
	}
}
