package ratelimit

import (
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
)

// luaScript is one embedded script: its source, sent with EVAL, and the
// SHA-1 EVALSHA names it by, each as the command argument it becomes.
type luaScript struct {
	src, sha interface{}
}

func newScript(src string) *luaScript {
	sum := sha1.Sum([]byte(src))
	return &luaScript{src: src, sha: hex.EncodeToString(sum[:])}
}

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
	scripts = [...]*luaScript{
		GCRA:                 newScript(gcraLua),
		SlidingWindowLog:     newScript(slidingLogLua),
		SlidingWindowCounter: newScript(slidingCounterLua),
		FixedWindow:          newScript(fixedWindowLua),
	}

	// gcraOne is GCRA for the common case: one limit, a decision (not a
	// peek), a cost within the burst; its reply is packed (see gcra1.lua).
	gcraOne = newScript(gcra1Lua)
	// fixedWindowOne is the fixed window on the server's clock for the
	// same common case (see fixed_window1.lua).
	fixedWindowOne = newScript(fixedWindow1Lua)
	// fixedWindowClock is the fixed window on the application's clock.
	fixedWindowClock = newScript(fixedWindowClockLua)
)
