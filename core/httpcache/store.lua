-- Store one variant of a URL's response, unless the URL was invalidated
-- since the response was asked for, and release the caller's fill lock.
-- KEYS[1]  the URL's hash (see lookup.lua)
-- KEYS[2]  the URL's generation (see lookup.lua)
-- KEYS[3]  the caller's fill lock (same slot; see lookup.lua)
-- ARGV[1]  the Vary names of the response ("" for none)
-- ARGV[2]  the variant's field, e:<variant>
-- ARGV[3]  the packed entry
-- ARGV[4]  how long to keep the entry, in milliseconds
-- ARGV[5]  the URL (host, path and canonical query)
-- ARGV[6]  the most variants kept per URL
-- ARGV[7]  the generation the lookup before the request found ("" for
--          none): when it has changed, an invalidation came after the
--          request, and the response may be older than it
-- ARGV[8]  the caller's lock token, "" when it holds no lock
-- A response whose Vary names differ from the stored ones replaces every
-- variant (they were selected by other fields); so does one that would
-- exceed the variant limit. The hash lives as long as its longest-kept
-- variant. The lock is deleted, stored or not, if it still holds the
-- token (last: a store that Redis refuses, out of memory, leaves it to
-- unlock.lua). Returns 1 when stored, 0 when not.
local function unlock()
  if ARGV[8] ~= '' and redis.call('GET', KEYS[3]) == ARGV[8] then
    redis.call('DEL', KEYS[3])
  end
end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[7] then
  unlock()
  return 0
end
local v = redis.call('HGET', KEYS[1], 'v')
local new = not v
if v and (v ~= ARGV[1] or redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) + 2) then
  redis.call('DEL', KEYS[1])
  new = true
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'u', ARGV[5], ARGV[2], ARGV[3])
if new or redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
unlock()
return 1
