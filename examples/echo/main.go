// Command echo is the redisware reference app on Echo. It serves the
// same routes, with the same behaviour, as the other two builds; the
// README and examples/README.md list them. The routes live in
// examples/internal/echoapp, so tests can run the three builds side by side.
//
// Run it with no Redis at all (it starts an embedded miniredis), or point
// it at one with REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS:
//
//	go run ./examples/echo -addr :8080
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/echo
package main

import (
	"github.com/redisware/redisware/examples/internal/app"
	"github.com/redisware/redisware/examples/internal/echoapp"
)

func main() { app.Main("echo", echoapp.New) }
