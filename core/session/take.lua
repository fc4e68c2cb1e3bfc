-- Read and delete a session in one step, for Renew: the old ID is dead the
-- moment its data is handed over, and no request can write to it afterwards.
-- KEYS[1]  the session (see load.lua)
-- KEYS[2]  its user's index, when it belongs to one
-- ARGV[1]  the session's hash (its index member)
-- Returns the session's fields and values, or an empty array if it is gone.
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then redis.call('DEL', KEYS[1]) end
if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[1]) end
return v
