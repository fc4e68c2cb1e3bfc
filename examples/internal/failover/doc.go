// Package failover runs the reference app (all three builds) against real
// Redis processes that fail the way production Redis does, and measures
// how it recovers: a Cluster master killed under load and its replica
// promoted, a Sentinel master killed, slots migrating while the app
// serves, the script cache flushed, a server out of memory, and a client
// that reads from replicas. Its tests are the package; they start
// redis-server processes (internal/redisproc), so they run only with
// REDISWARE_PROCS=1, as CI's "production redis" stage sets it. The
// recovery times they measure are logged on lines starting with MEASURED.
package failover
