-- Revoked: whether a token is on the deny list.
-- KEYS[1]  the token's deny-list entry
-- Returns 1 if the entry exists, 0 if not.
-- A script, not a plain EXISTS: go-redis routes EXISTS to a replica when the
-- application's client reads from replicas (ReadOnly, RouteRandomly,
-- RouteByLatency), and a replica that has not yet received a revocation would
-- let the revoked token through; EVALSHA always runs on the master.
return redis.call('EXISTS', KEYS[1])
