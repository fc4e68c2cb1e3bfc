package main

import (
	"testing"

	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/ginapp"
)

func TestContract(t *testing.T) { contract.Run(t, ginapp.New) }
