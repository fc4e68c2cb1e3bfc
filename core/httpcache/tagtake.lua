-- Take a tag's index away, so entries tagged from now on start a new one, and
-- answer every index moved away from this tag that is still to be drained:
-- this one, and any an earlier InvalidateTags left (its reply lost after this
-- script ran, or a failure while it drained), so that calling InvalidateTags
-- again finishes that work instead of finding nothing.
-- KEYS[1]  the tag's index (see tagadd.lua)
-- KEYS[2]  where to move it: a key with the same hash tag
-- KEYS[3]  the set of moved indexes not yet drained (same hash tag), kept as
--          long as the longest of them
-- Returns the names of the moved indexes to drain (none: nothing was tagged).
-- The names in KEYS[3] are keys of this slot: each was a KEYS[2] here.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('SADD', KEYS[3], KEYS[2])
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl < 0 then ttl = 60000 end -- an index always has a TTL; never keep one forever
  if ttl > redis.call('PTTL', KEYS[3]) then redis.call('PEXPIRE', KEYS[3], ttl) end
end
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('EXISTS', k) == 1 then
    out[#out + 1] = k
  else -- drained, or expired with its entries
    redis.call('SREM', KEYS[3], k)
  end
end
return out
