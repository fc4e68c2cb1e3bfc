-- Add to an integer value of a live session, in place.
-- KEYS[1]  the session (see load.lua); ARGV[1] the value's field; ARGV[2] delta
-- Returns the new value, or false if the session is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
