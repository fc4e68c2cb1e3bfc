-- Get: the value (or a load's marker) stored under a key, as GET answers. A
-- script, so that it runs on the key's master: a client that reads from
-- replicas would send a plain GET to a replica, which may still hold a value
-- that was just deleted, set anew or invalidated, and the in-process tier
-- would keep that copy.
-- KEYS[1]  the value's key
return redis.call('GET', KEYS[1])
