// Package ginmw adapts the redisware cores to Gin: each function returns a
// gin.HandlerFunc. A core that answers by itself aborts the chain, so later
// handlers never run.
package ginmw
