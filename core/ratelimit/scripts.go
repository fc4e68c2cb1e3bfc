package ratelimit

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed gcra.lua
	gcraLua string
	//go:embed sliding_log.lua
	slidingLogLua string
	//go:embed sliding_counter.lua
	slidingCounterLua string
	//go:embed fixed_window.lua
	fixedWindowLua string

	scripts = [...]*redis.Script{
		GCRA:                 redis.NewScript(gcraLua),
		SlidingWindowLog:     redis.NewScript(slidingLogLua),
		SlidingWindowCounter: redis.NewScript(slidingCounterLua),
		FixedWindow:          redis.NewScript(fixedWindowLua),
	}
)
