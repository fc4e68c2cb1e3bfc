-- Forget a URL (all its variants) or an application value. A URL's hash
-- is replaced by one holding only a new generation, so a fill that looked
-- the URL up before cannot store what it got afterwards (see store.lua).
-- (A value needs no generation: deleting it removes the marker of a load
-- in progress; see setdata.lua.)
-- KEYS[1]  the URL's hash, or the value's key
-- ARGV[1]  the URL's new generation: random, never one used before ("" for
--          a value)
-- ARGV[2]  how long the generation is kept, in milliseconds
-- Returns 1 when there was something to forget, 0 when not.
if ARGV[1] == '' then
  return redis.call('UNLINK', KEYS[1])
end
local n = redis.call('HEXISTS', KEYS[1], 'v')
redis.call('UNLINK', KEYS[1])
redis.call('HSET', KEYS[1], 'g', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
