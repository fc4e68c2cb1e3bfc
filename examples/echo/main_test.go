package main

import (
	"testing"

	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/echoapp"
)

func TestContract(t *testing.T) { contract.Run(t, echoapp.New) }
