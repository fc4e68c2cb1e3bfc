package main

import (
	"testing"

	"github.com/redisware/redisware/examples/internal/contract"
	"github.com/redisware/redisware/examples/internal/nethttpapp"
)

func TestContract(t *testing.T) { contract.Run(t, nethttpapp.New) }
