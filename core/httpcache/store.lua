-- Store one variant of a URL's response, unless the URL was invalidated
-- since the response was asked for, and release the caller's fill lock.
-- KEYS[1]  the URL's hash, holding its generation (see lookup.lua)
-- KEYS[2]  the caller's fill lock (same slot; see lookup.lua)
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
-- exceed the variant limit. The generation stays, and the hash lives as
-- long as its longest-kept variant, and never less than the generation
-- had left. The lock is deleted, stored or not, if it still holds the
-- token (last: a store that Redis refuses, out of memory, leaves it to
-- unlock.lua). Returns 1 when stored, 0 when not.
local function unlock()
  if ARGV[8] ~= '' and redis.call('GET', KEYS[2]) == ARGV[8] then
    redis.call('DEL', KEYS[2])
  end
end
local r = redis.call('HMGET', KEYS[1], 'g', 'v')
local g, v = r[1], r[2]
if (g or '') ~= ARGV[7] then
  unlock()
  return 0
end
if not g and not v then -- a URL with nothing stored and no generation: no hash
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'u', ARGV[5], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  unlock()
  return 1
end
local keep = tonumber(ARGV[4])
local ttl = redis.call('PTTL', KEYS[1])
local fresh = false
if v and (v ~= ARGV[1] or redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) + (g and 3 or 2)) then
  redis.call('DEL', KEYS[1])
  fresh = true
end
if fresh and g then
  redis.call('HSET', KEYS[1], 'g', g, 'v', ARGV[1], 'u', ARGV[5], ARGV[2], ARGV[3])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'u', ARGV[5], ARGV[2], ARGV[3])
end
if ttl < keep or (fresh and not g) then
  redis.call('PEXPIRE', KEYS[1], keep)
elseif fresh then
  redis.call('PEXPIRE', KEYS[1], ttl) -- what the generation had left
end
unlock()
return 1
