// Package internal holds what several redisware cores share: key building
// (keys), the client address (clientip), RFC 9457 problem bodies (problem),
// the calls of concurrent requests sent together (batch),
// Redis calls with a deadline (rediscall) and Lua scripts that go-redis
// never runs twice (script). Nothing here is public API.
package internal
