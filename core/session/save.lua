-- Write what a request changed, and only that, if the session still exists: a
-- request in flight can never bring back a destroyed session. Its values, its
-- metadata (the RememberMe choice) and, for Session.SetDeadline, its deadline,
-- which is only ever brought forward, with the key's TTL.
-- KEYS[1]  the session (see load.lua)
-- KEYS[2]  its renewal marker (see take.lua)
-- ARGV[1]  now in milliseconds, or "" to use the server's TIME
-- ARGV[2]  a deadline (ms since the epoch) to end the session by, or "": the
--          session's deadline becomes the earlier of it and its own
-- ARGV[3]  the number n of fields to set; ARGV[4..2n+3] field, value pairs;
--          ARGV[2n+4..] fields to delete
-- Returns {1, now, deadline} when written, deadline being the session's after
-- this call; when the session is gone, {2} if its ID was renewed moments ago
-- (the marker exists), else {0}; {0} too when the deadline is now past, and
-- the session deleted.
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
  return {0}
end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local deadline = tonumber(redis.call('HGET', KEYS[1], '_d'))
local by = tonumber(ARGV[2])
if by and (not deadline or by < deadline) then
  if by <= now then
    redis.call('DEL', KEYS[1])
    return {0}
  end
  deadline = by
  redis.call('HSET', KEYS[1], '_d', deadline)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or deadline - now < ttl then redis.call('PEXPIRE', KEYS[1], deadline - now) end
end
local n = tonumber(ARGV[3])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 4, 2 * n + 3)) end
if #ARGV > 2 * n + 3 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 * n + 4)) end
return {1, now, deadline or 0}
