package fleet_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/echoapp"
	"github.com/redisware/redisware/examples/internal/ginapp"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
)

// builds are the reference app in each framework, one instance each.
var builds = map[string]contract.NewHandler{
	"nethttp": nethttpapp.New,
	"gin":     ginapp.New,
	"echo":    echoapp.New,
}

// TestFleet runs the three builds as one fleet on one Redis.
func TestFleet(t *testing.T) { contract.RunFleet(t, builds) }

// TestFleetAutoPipeline runs the same fleet with each instance on its own
// client's AutoPipeliner: the cores composed as the app composes them
// (the limiter around the whole router, the session middleware around the
// cache and the idempotency guard) keep every promise there too, two
// users behind one address included.
func TestFleetAutoPipeline(t *testing.T) {
	contract.RunFleetOn(t, builds, func(srv *redistest.Server) (redis.UniversalClient, error) {
		return redistest.AutoPipeline(t, srv.Client(), redistest.Blocking), nil
	})
}

// TestFleetFaulty runs the three builds as one fleet on connections that
// lose replies, each request failed on one instance retried on another.
func TestFleetFaulty(t *testing.T) { contract.RunFleetFaulty(t, builds) }
