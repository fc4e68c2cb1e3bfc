-- Fixed window on the Redis server's clock for a policy of exactly one limit:
-- fixed_window.lua's keys, arguments, reply and meaning, in as few commands as
-- possible, since most policies have one limit and this runs on every request.
-- The common case, an admitted request in an open window, is INCRBY and PTTL;
-- a request over the limit is taken back at once, inside the same atomic script,
-- so a denial consumes nothing.
-- KEYS[1]  the units used in the current window (a counter with the window's TTL)
-- ARGV[1]  unused (""), ARGV[2] cost, ARGV[3] "1" to consume, ARGV[4] rate,
-- ARGV[5] period (us), ARGV[6] burst (unused)
-- Returns allowed, remaining, retry after (us; 0 admitted, -1 never), reset after (us).
local cost, rate = tonumber(ARGV[2]), tonumber(ARGV[4])
if ARGV[3] ~= '1' or cost > rate then
  local used = tonumber(redis.call('GET', KEYS[1])) or 0
  local left = 0
  if used > 0 then left = math.max(redis.call('PTTL', KEYS[1]), 0) * 1000 end
  if cost > rate then return {0, rate - used, -1, left} end
  if used + cost > rate then return {0, rate - used, left, left} end
  return {1, rate - used, 0, left}
end
local used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then
  redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[5] / 1000))
  return {1, rate - used, 0, tonumber(ARGV[5])}
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then -- a counter without a TTL cannot happen; repair it as a new window
  redis.call('SET', KEYS[1], cost, 'PX', math.ceil(ARGV[5] / 1000))
  return {1, rate - cost, 0, tonumber(ARGV[5])}
end
if used > rate then
  redis.call('DECRBY', KEYS[1], cost)
  return {0, rate - used + cost, left * 1000, left * 1000}
end
return {1, rate - used, 0, left * 1000}
