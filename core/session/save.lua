-- Write the values a request changed, and only those, if the session still
-- exists: a request in flight can never bring back a destroyed session.
-- KEYS[1]  the session (see load.lua)
-- KEYS[2]  its renewal marker (see take.lua)
-- ARGV[1]  the number n of fields to set; ARGV[2..2n+1] field, value pairs;
--          ARGV[2n+2..] fields to delete
-- Returns 1 when written; when the session is gone, 2 if its ID was renewed
-- moments ago (the marker exists), else 0.
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
  return 0
end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 2 * n + 1)) end
if #ARGV > 2 * n + 1 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 * n + 2)) end
return 1
