package main

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisware/redisware/core/redistest"
	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
)

func TestContract(t *testing.T) { contract.Run(t, nethttpapp.New) }

// Every route works the same on an AutoPipeliner: each core's calls keep
// their deadlines and run once.
func TestContractAutoPipeline(t *testing.T) {
	contract.RunOn(t, nethttpapp.New, func(srv *redistest.Server) (redis.UniversalClient, error) {
		return redistest.AutoPipeline(t, srv.Client(), redistest.Blocking), nil
	})
}
