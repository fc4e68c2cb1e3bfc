-- Store an application value that a load produced, unless the key was
-- invalidated (or set) since the load began.
-- KEYS[1]  the value's key
-- KEYS[2]  its generation (see forget.lua)
-- ARGV[1]  the packed value
-- ARGV[2]  how long to keep it, in milliseconds
-- ARGV[3]  the generation the read before the load found ("" for none)
-- Returns 1 when stored, 0 when not.
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
