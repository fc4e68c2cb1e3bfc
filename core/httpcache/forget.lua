-- Forget a URL (all its variants) or an application value, and set its
-- generation anew, so a fill that looked it up before cannot store what it
-- got afterwards.
-- KEYS[1]  the URL's hash, or the value's key
-- KEYS[2]  its generation (same slot)
-- ARGV[1]  the new generation: random, never one used before
-- ARGV[2]  how long the generation is kept, in milliseconds
-- Returns 1 when there was something to forget, 0 when not.
local n = redis.call('UNLINK', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return n
