-- Obtain: take the lock if it is free, and hand out the next fencing token.
-- KEYS[1]  the lock; its value is the owner's token
-- KEYS[2]  the fence counter: the last fencing token handed out for this lock
-- ARGV[1]  the owner's token
-- ARGV[2]  the lock's TTL in milliseconds
-- ARGV[3]  the fence counter's TTL in milliseconds (24 hours, or the lock's TTL if longer)
-- ARGV[4]  now in microseconds since the epoch, or "" to use the server's TIME
-- Returns the fencing token, max(last token + 1, now in microseconds), which grows
-- strictly with every acquisition even after the counter expired, as long as the
-- clock does not go back; or 0 if another owner holds the lock (nothing is written).
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local fence = (tonumber(redis.call('GET', KEYS[2])) or 0) + 1
if now > fence then
  fence = now
end
-- formatted by hand: Lua's own conversion keeps 14 digits, too few for microseconds
redis.call('SET', KEYS[2], string.format('%.17g', fence), 'PX', ARGV[3])
return fence
