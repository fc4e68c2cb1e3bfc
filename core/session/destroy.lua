-- Destroy one session (logout, or revocation of one of a user's sessions).
-- KEYS[1]  the session (see load.lua)
-- KEYS[2]  its user's index, when it belongs to one
-- ARGV[1]  the session's hash (its index member)
-- Returns 1 if the session existed, else 0.
local n = redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[1]) end
return n
