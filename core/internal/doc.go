// Package internal holds what several redisware cores share: key building
// (keys), the client address (clientip), RFC 9457 problem bodies (problem)
// and Redis calls with a deadline (rediscall). Nothing here is public API.
package internal
