-- GCRA for a policy of exactly one limit: the same keys, arguments and reply
-- as gcra.lua, without its per-limit tables, since most policies have one
-- limit and this script runs on every request.
-- KEYS[1]  the theoretical arrival time (TAT), microseconds since the epoch
-- ARGV[1]  now in microseconds, or "" to use the server's TIME
-- ARGV[2]  cost of this request (>= 1)
-- ARGV[3]  "1" to consume when the limit admits the cost, "0" to only look
-- ARGV[4], ARGV[5], ARGV[6]  rate, period (microseconds), burst
-- Returns allowed (1/0), remaining, retry after (us; 0 admitted, -1 never),
-- reset after (us until the bucket is full).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
end
local cost, burst = tonumber(ARGV[2]), tonumber(ARGV[6])
local interval = ARGV[5] / ARGV[4]
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
local avail = math.floor((now - tat + tolerance + 0.5) / interval)
if cost > burst then
  return {0, avail, -1, math.ceil(tat - now)}
end
if allow_at > now + 0.5 then -- half a microsecond of float rounding forgiven
  return {0, avail, math.ceil(allow_at - now), math.ceil(tat - now)}
end
if ARGV[3] ~= '1' then
  return {1, avail, 0, math.ceil(tat - now)}
end
local ttl = math.ceil((new_tat - now) / 1000)
-- formatted by hand: Lua's own number conversion keeps 14 digits, too few
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl)
return {1, avail - cost, 0, math.ceil(new_tat - now)}
