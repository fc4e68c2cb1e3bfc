package ratelimit

import (
	_ "embed"

	"github.com/redisware/redisware/core/internal/script"
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

	// scripts are the general scripts: any number of limits, peeks as
	// well as decisions, and four integers of reply per limit.
	scripts = [...]*script.Script{
		GCRA:                 script.New(gcraLua),
		SlidingWindowLog:     script.New(slidingLogLua),
		SlidingWindowCounter: script.New(slidingCounterLua),
		FixedWindow:          script.New(fixedWindowLua),
	}

	// gcraOne is GCRA for the common case: one limit, a decision (not a
	// peek), a cost within the burst; its reply is packed (see gcra1.lua).
	gcraOne = script.New(gcra1Lua)
	// fixedWindowOne is the fixed window on the server's clock for the
	// same common case (see fixed_window1.lua).
	fixedWindowOne = script.New(fixedWindow1Lua)
	// fixedWindowClock is the fixed window on the application's clock.
	fixedWindowClock = script.New(fixedWindowClockLua)
)
