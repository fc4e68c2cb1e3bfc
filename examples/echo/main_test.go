package main

import (
	"testing"

	"github.com/redisware/redisware/examples/internal/contract"
)

func TestContract(t *testing.T) { contract.Run(t, newHandler) }
