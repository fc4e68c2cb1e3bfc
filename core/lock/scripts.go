package lock

import (
	_ "embed"

	"github.com/redisware/redisware/core/internal/script"
)

var (
	//go:embed obtain.lua
	obtainLua string
	//go:embed release.lua
	releaseLua string
	//go:embed refresh.lua
	refreshLua string
	//go:embed pttl.lua
	pttlLua string

	// Each runs at most once per call: a call whose reply was lost fails
	// rather than being re-sent by go-redis (see package script).
	obtainScript  = script.New(obtainLua)
	releaseScript = script.New(releaseLua)
	refreshScript = script.New(refreshLua)
	pttlScript    = script.New(pttlLua)
)
