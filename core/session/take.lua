-- Read and delete a live session in one step, for Renew and Login: the old ID is
-- dead the moment its data is handed over, and no request can write to it
-- afterwards. A session that no longer exists (logged out, revoked, evicted by
-- the per-user cap, expired) is not renewed. The old ID is marked as renewed for
-- a short while, so a request that still carries it (sent before the browser
-- got the new cookie) is told apart from one carrying a revoked ID.
-- KEYS[1]  the session (see load.lua)
-- KEYS[2]  its renewal marker: a string that lives ARGV[4] ms
-- KEYS[3]  its user's index, when it belongs to one
-- ARGV[1]  the session's hash (its index member)
-- ARGV[2]  now in milliseconds, or "" to use the server's TIME
-- ARGV[3]  idle timeout in milliseconds (0: none)
-- ARGV[4]  how long the marker lives, in milliseconds
-- Returns {1, field, value, ...} when taken, {2} when the ID was already renewed
-- (the marker exists), {0} when there is no live session.
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local idle = tonumber(ARGV[3])
local v = redis.call('HGETALL', KEYS[1])
if KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[1]) end
if #v == 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
  return {0}
end
redis.call('DEL', KEYS[1])
local deadline, seen
for i = 1, #v, 2 do
  if v[i] == '_d' then deadline = tonumber(v[i + 1]) elseif v[i] == '_s' then seen = tonumber(v[i + 1]) end
end
if not deadline or now >= deadline or (idle > 0 and seen and now - seen >= idle) then
  return {0}
end
redis.call('SET', KEYS[2], 'renewed', 'PX', ARGV[4])
local out = {1}
for i = 1, #v do out[i + 1] = v[i] end
return out
