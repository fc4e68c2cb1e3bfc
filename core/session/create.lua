-- Create a session under a fresh ID, and record it in its user's index when
-- it belongs to one, evicting the user's oldest sessions over the cap.
-- KEYS[1]  the new session (see load.lua)
-- KEYS[2]  the user's index, a sorted set of session hashes in creation order
--          (scored by creation time in ms, made unique); present only for a session bound to a user. Every session of a
--          user shares the user's hash tag, so the sessions this script evicts,
--          whose keys it derives from ARGV[5], are in the same slot.
-- ARGV[1]  now in milliseconds, or ""; ARGV[2] idle timeout ms (0: none);
-- ARGV[3]  absolute deadline ms since the epoch, or "" for now + ARGV[4]
-- ARGV[4]  lifetime ms; ARGV[5] key prefix of the user's sessions; ARGV[6] this
--          session's hash (its index member); ARGV[7] cap of sessions per user (0: none)
-- ARGV[8]  a deadline ms to bring the one above forward to (Session.SetDeadline), or ""
-- ARGV[9..] field, value pairs to store
-- Returns {1, now, deadline}; {2, now}, creating nothing, if the deadline has
-- passed already; {0} if the ID is taken (never in practice).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local idle = tonumber(ARGV[2])
local deadline = tonumber(ARGV[3]) or now + tonumber(ARGV[4])
local by = tonumber(ARGV[8])
if by and by < deadline then deadline = by end
if deadline <= now then return {2, now} end
local created = now
redis.call('HSET', KEYS[1], '_s', now, '_d', deadline)
if #ARGV >= 10 then redis.call('HSET', KEYS[1], unpack(ARGV, 9)) end
if redis.call('HEXISTS', KEYS[1], '_c') == 0 then redis.call('HSET', KEYS[1], '_c', created) end
local ttl = deadline - now
if idle > 0 and idle < ttl then ttl = idle end
redis.call('PEXPIRE', KEYS[1], ttl)
if KEYS[2] then
  local base, cap = ARGV[5], tonumber(ARGV[7])
  -- scores order the index strictly, even for logins within one millisecond
  local score = created
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) >= score then score = tonumber(last[2]) + 1 end
  redis.call('ZADD', KEYS[2], score, ARGV[6])
  -- forget sessions that have expired, then evict the oldest over the cap
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('EXISTS', base .. m) == 0 then redis.call('ZREM', KEYS[2], m) end
  end
  if cap > 0 then
    while redis.call('ZCARD', KEYS[2]) > cap do
      local oldest = redis.call('ZPOPMIN', KEYS[2])
      redis.call('DEL', base .. oldest[1])
    end
  end
  if redis.call('PTTL', KEYS[2]) < deadline - now then redis.call('PEXPIRE', KEYS[2], deadline - now) end
end
return {1, now, deadline}
