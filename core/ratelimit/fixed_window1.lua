-- Fixed window on the Redis server's clock for a policy of exactly one limit,
-- taking one unit or more: fixed_window.lua's keys, state and meaning in as
-- few commands as possible, since most policies have one limit and this runs
-- on every request. An admitted request in an open window is INCRBY and PTTL;
-- a request over the limit is taken back at once, inside the same atomic
-- script, so a denial consumes nothing. Peeks, costs above the rate, an
-- application clock and policies of several limits go to the other scripts.
-- KEYS[1]  the units used in the current window (a counter with the window's TTL)
-- ARGV[1]  cost (1 to rate), ARGV[2] rate, ARGV[3] period in milliseconds
-- Returns one integer: used * (period + 1) + left, where used is the count
-- with this request's cost added (over rate: denied, and taken back) and left
-- the milliseconds until the window closes.
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
local period = tonumber(ARGV[3])
-- a cost of 1 (almost every call) is not parsed: tonumber is strtod
local cost = ARGV[1] == '1' and 1 or tonumber(ARGV[1])
if used == cost then -- a new window
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return used * (period + 1) + period
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then -- a counter without a TTL cannot happen; repair it as a new window
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return cost * (period + 1) + period
end
if used > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
end
return used * (period + 1) + left
