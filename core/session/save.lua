-- Write what a request changed, and only that, if the session is alive: one
-- round trip, whether the request loaded the session or not (a request whose
-- first use of its session is Put or Remove). A session that has ended (its
-- deadline passed, idle, destroyed, revoked, renewed, bound under another
-- secret) is never written, so no request in flight can bring one back. It
-- writes the values, the metadata (the RememberMe choice) and, for
-- Session.SetDeadline, the deadline, which is only ever brought forward, with
-- the key's TTL; for a session not loaded, it also makes the checks and the
-- slide of the idle expiry that load.lua would have made.
-- KEYS[1]  the session (see load.lua)
-- KEYS[2]  its renewal marker (see take.lua)
-- ARGV[1]  now in milliseconds, or "" to use the server's TIME
-- ARGV[2]  idle timeout in milliseconds (0: none), for a session not loaded by
--          this request; "" for one it loaded (load.lua checked it and slid
--          its idle expiry)
-- ARGV[3]  the fingerprint "_k" must hold (a session bound to a user), or ""
-- ARGV[4]  a deadline (ms since the epoch) to end the session by, or "": the
--          session's deadline becomes the earlier of it and its own
-- ARGV[5]  the number n of fields to set; ARGV[6..2n+5] field, value pairs;
--          ARGV[2n+6..] fields to delete
-- Returns {1, now, deadline before, deadline after, last seen before, the
-- RememberMe choice before ("" for none)} when written. When the session is
-- gone: {2} if its ID was renewed moments ago (the marker exists), else {0};
-- {0} too when it has ended (deleted, unless bound under another secret), and
-- {3} when the deadline given ends it now (deleted); {4}, writing nothing,
-- when a session not loaded has no fingerprint to check (bound before they
-- were kept): the caller loads it, then saves.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local m
if ARGV[2] == '' then
  -- Loaded: only what the checks below need (each field read costs).
  m = redis.call('HMGET', KEYS[1], '_d', '_k')
  m[2], m[4] = false, m[2]
else
  m = redis.call('HMGET', KEYS[1], '_d', '_s', '_p', '_k')
end
local deadline, seen = tonumber(m[1]), tonumber(m[2])
if not deadline then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
  return {0}
end
if ARGV[3] ~= '' and m[4] ~= ARGV[3] then
  -- Bound under another secret: dead. Bound before fingerprints were kept:
  -- written only once a load has checked its user tag.
  if m[4] or ARGV[2] ~= '' then return {m[4] and 0 or 4} end
end
local idle = tonumber(ARGV[2])
if now >= deadline or (idle and idle > 0 and seen and now - seen >= idle) then
  redis.call('DEL', KEYS[1])
  return {0}
end
local was = deadline
local by = tonumber(ARGV[4])
if by and by < deadline then
  if by <= now then
    redis.call('DEL', KEYS[1])
    return {3}
  end
  deadline = by
end
local n = tonumber(ARGV[5])
if idle then
  redis.call('HSET', KEYS[1], '_s', now, unpack(ARGV, 6, 2 * n + 5))
elseif n > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6, 2 * n + 5))
end
if deadline ~= was then redis.call('HSET', KEYS[1], '_d', deadline) end
if #ARGV > 2 * n + 5 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 * n + 6)) end
if idle then
  local ttl = deadline - now
  if idle > 0 and idle < ttl then ttl = idle end
  redis.call('PEXPIRE', KEYS[1], ttl)
elseif deadline ~= was then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or deadline - now < ttl then redis.call('PEXPIRE', KEYS[1], deadline - now) end
end
return {1, now, was, deadline, seen or 0, m[3] or ''}
