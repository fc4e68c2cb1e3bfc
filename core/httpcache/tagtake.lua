-- Take a tag's index away, so entries tagged from now on start a new one.
-- KEYS[1]  the tag's index (see tagadd.lua)
-- KEYS[2]  where to move it: a key with the same hash tag
-- Returns 1 when there was an index to move, 0 when there was none.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
