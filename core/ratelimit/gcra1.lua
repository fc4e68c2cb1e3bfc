-- GCRA for a policy of exactly one limit, taking one unit or more: gcra.lua's
-- keys, state and meaning in as little Redis work as possible, since most
-- policies have one limit and this runs on every request. Peeks, costs above
-- the burst and policies of several limits go to gcra.lua.
-- KEYS[1]  the theoretical arrival time (TAT), microseconds since the epoch
-- ARGV[1]  cost of this request (1 to burst)
-- ARGV[2]  emission interval: period / rate, in microseconds (a float)
-- ARGV[3]  burst
-- ARGV[4]  now in microseconds; absent: the Redis server's TIME
-- Returns, when admitted, one integer: reset after (us until the bucket is
-- full) * (burst + 1) + remaining; when denied, {remaining, retry after (us),
-- reset after (us)}, and nothing is written.
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
end
-- a cost of 1 (almost every call) is not parsed: tonumber is strtod
local cost = ARGV[1] == '1' and 1 or tonumber(ARGV[1])
local interval, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
local avail = math.floor((now - tat + tolerance + 0.5) / interval)
if allow_at > now + 0.5 then -- half a microsecond of float rounding forgiven
  return {avail, math.ceil(allow_at - now), math.ceil(tat - now)}
end
local reset = math.ceil(new_tat - now)
-- Formatted by hand: Lua's own number conversion keeps 14 digits, too few.
-- A whole number (the usual case: an interval of whole microseconds) with
-- %d, which writes the same digits as %.17g below 2^53 at half the cost;
-- so is the TTL, which Redis would otherwise format with %.17g itself.
local v = new_tat % 1 == 0 and string.format('%d', new_tat) or string.format('%.17g', new_tat)
redis.call('SET', KEYS[1], v, 'PX', string.format('%d', math.ceil(reset / 1000)))
return reset * (burst + 1) + avail - cost
