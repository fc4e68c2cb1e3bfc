-- Load a session and slide its idle expiry: one round trip per request.
-- KEYS[1]  the session: a hash of values ("v:<name>") and metadata ("_c" created,
--          "_s" last seen, "_d" absolute deadline, all ms since the epoch; "_u" user,
--          "_a" user agent, "_i" address)
-- ARGV[1]  now in milliseconds, or "" to use the server's TIME
-- ARGV[2]  idle timeout in milliseconds (0: none)
-- Returns {0} when there is no live session (an expired one is deleted), else
-- {1, now, field, value, field, value, ...}.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local idle = tonumber(ARGV[2])
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return {0} end
local deadline, seen
for i = 1, #v, 2 do
  if v[i] == '_d' then deadline = tonumber(v[i + 1]) elseif v[i] == '_s' then seen = tonumber(v[i + 1]) end
end
if not deadline or now >= deadline or (idle > 0 and seen and now - seen >= idle) then
  redis.call('DEL', KEYS[1])
  return {0}
end
redis.call('HSET', KEYS[1], '_s', now)
local ttl = deadline - now
if idle > 0 and idle < ttl then ttl = idle end
redis.call('PEXPIRE', KEYS[1], ttl)
local out = {1, now}
for i = 1, #v do out[i + 2] = v[i] end
return out
