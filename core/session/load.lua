-- Load a session and slide its idle expiry (and, for Session.Incr on a session
-- not loaded yet, add to one of its integer values): one round trip.
-- KEYS[1]  the session: a hash of values ("v:<name>") and metadata ("_c" created,
--          "_s" last seen, "_d" absolute deadline (the end of the Lifetime, or an
--          earlier Session.SetDeadline), all ms since the epoch; "_u" user,
--          "_a" user agent, "_i" address, "_p" the RememberMe choice)
-- KEYS[2]  the session's renewal marker (see take.lua)
-- ARGV[1]  now in milliseconds, or "" to use the server's TIME
-- ARGV[2]  idle timeout in milliseconds (0: none)
-- ARGV[3]  optional: the field of an integer value to add to; ARGV[4] what to add
-- Returns {0} when there is no live session (an expired one is deleted), {2} when
-- its ID was renewed moments ago (the marker exists), else
-- {1, now, incr, field, value, field, value, ...}: the fields as they were
-- before this call, where incr is 0 (no increment asked), {n} (the new value)
-- or -1 (the value is not an integer, nothing added).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local idle = tonumber(ARGV[2])
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
  return {0}
end
local deadline, seen
for i = 1, #v, 2 do
  if v[i] == '_d' then deadline = tonumber(v[i + 1]) elseif v[i] == '_s' then seen = tonumber(v[i + 1]) end
end
if not deadline or now >= deadline or (idle > 0 and seen and now - seen >= idle) then
  redis.call('DEL', KEYS[1])
  return {0}
end
-- Out of memory under noeviction, Redis refuses HSET: the session is then read as
-- it is, neither slid nor added to (an increment fails), so a request that only
-- reads its session still works, and nothing is written.
local slid = redis.pcall('HSET', KEYS[1], '_s', now)
if type(slid) == 'table' and slid.err then
  if ARGV[3] then return redis.error_reply(slid.err) end
  local out = {1, now, 0}
  for i = 1, #v do out[i + 3] = v[i] end
  return out
end
local ttl = deadline - now
if idle > 0 and idle < ttl then ttl = idle end
redis.call('PEXPIRE', KEYS[1], ttl)
local incr = 0
if ARGV[3] then
  local n = redis.pcall('HINCRBY', KEYS[1], ARGV[3], ARGV[4])
  if type(n) == 'number' then incr = {n} else incr = -1 end
end
local out = {1, now, incr}
for i = 1, #v do out[i + 3] = v[i] end
return out
