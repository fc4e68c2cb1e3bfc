-- Add to an integer value of a live session, in place.
-- KEYS[1]  the session (see load.lua); ARGV[1] the value's field; ARGV[2] delta
-- Returns {n}, the new value; -1 if the value is not an integer (nothing added);
-- 0 if the session is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.pcall('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if type(n) == 'number' then return {n} end
return -1
