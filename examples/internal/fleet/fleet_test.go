package fleet_test

import (
	"testing"

	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/echoapp"
	"github.com/redisware/redisware/examples/internal/ginapp"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
)

// TestFleet runs the three builds as one fleet on one Redis.
func TestFleet(t *testing.T) {
	contract.RunFleet(t, map[string]contract.NewHandler{
		"nethttp": nethttpapp.New,
		"gin":     ginapp.New,
		"echo":    echoapp.New,
	})
}

// TestFleetFaulty runs the three builds as one fleet on connections that
// lose replies, each request failed on one instance retried on another.
func TestFleetFaulty(t *testing.T) {
	contract.RunFleetFaulty(t, map[string]contract.NewHandler{
		"nethttp": nethttpapp.New,
		"gin":     ginapp.New,
		"echo":    echoapp.New,
	})
}
