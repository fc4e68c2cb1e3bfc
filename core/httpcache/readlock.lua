-- Read a value, or put the caller's marker in its place when there is
-- none: SET key marker NX GET PX ttl, for servers that refuse NX with GET
-- (before Redis 7.0).
-- KEYS[1]  the value's key
-- ARGV[1]  the caller's marker
-- ARGV[2]  how long the marker is kept, in milliseconds
-- Returns the value (or another's marker), or false when the marker was
-- set.
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
