-- Forget a URL (all its variants) or an application value, and set the
-- URL's generation anew, so a fill that looked it up before cannot store
-- what it got afterwards. (A value needs no generation: deleting it
-- removes the marker of a load in progress; see setdata.lua.)
-- KEYS[1]  the URL's hash, or the value's key
-- KEYS[2]  the URL's generation (same slot); absent for a value
-- ARGV[1]  the new generation: random, never one used before ("" for a
--          value)
-- ARGV[2]  how long the generation is kept, in milliseconds
-- Returns 1 when there was something to forget, 0 when not.
local n = redis.call('UNLINK', KEYS[1])
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
end
return n
