package fleet_test

import (
	"testing"

	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/echoapp"
	"github.com/redisware/redisware/examples/internal/ginapp"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
)

func TestFleet(t *testing.T) {
	contract.RunFleet(t, map[string]contract.NewHandler{
		"nethttp": nethttpapp.New,
		"gin":     ginapp.New,
		"echo":    echoapp.New,
	})
}
