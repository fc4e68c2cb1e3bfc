package ratelimit

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed gcra.lua
	gcraLua string
	//go:embed gcra1.lua
	gcra1Lua string
	//go:embed sliding_log.lua
	slidingLogLua string
	//go:embed sliding_counter.lua
	slidingCounterLua string
	//go:embed fixed_window.lua
	fixedWindowLua string
	//go:embed fixed_window1.lua
	fixedWindow1Lua string
	//go:embed fixed_window_clock.lua
	fixedWindowClockLua string

	scripts = [...]*redis.Script{
		GCRA:                 redis.NewScript(gcraLua),
		SlidingWindowLog:     redis.NewScript(slidingLogLua),
		SlidingWindowCounter: redis.NewScript(slidingCounterLua),
		FixedWindow:          redis.NewScript(fixedWindowLua),
	}

	// gcraOne is GCRA for policies of one limit, the common case.
	gcraOne = redis.NewScript(gcra1Lua)
	// fixedWindowOne is the fixed window for policies of one limit.
	fixedWindowOne = redis.NewScript(fixedWindow1Lua)
	// fixedWindowClock is the fixed window on the application's clock.
	fixedWindowClock = redis.NewScript(fixedWindowClockLua)
)
