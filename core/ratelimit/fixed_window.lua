-- Fixed window on the Redis server's clock: a window opens with the first
-- request after the previous one closed and lasts period; the key's TTL is
-- the window, so no clock reading is needed at all.
-- KEYS[i]  the units used in the current window of limit i (a counter with the
--          window's TTL)
-- ARGV[1]  unused here (always ""; see fixed_window_clock.lua for an app clock)
-- ARGV[2]  cost, ARGV[3] "1" to consume, then rate, period (us), burst per limit
--          (burst unused)
-- Returns 4 integers per limit: allowed, remaining, retry after (us; 0 admitted,
-- -1 never), reset after (us until the window closes; a closed window resets at
-- once). Nothing is written unless every limit admits the cost.
local cost = tonumber(ARGV[2])
local n = #KEYS
local used, left = {}, {}
local all = true
for i = 1, n do
  local rate = tonumber(ARGV[3 + (i - 1) * 3 + 1])
  used[i] = tonumber(redis.call('GET', KEYS[i])) or 0
  left[i] = 0
  if used[i] > 0 then left[i] = redis.call('PTTL', KEYS[i]) * 1000 end
  if left[i] < 0 then used[i], left[i] = 0, 0 end -- no TTL: treat as closed
  if cost > rate or used[i] + cost > rate then all = false end
end
local consume = all and ARGV[3] == '1'
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local o = (i - 1) * 4
  local ok = cost <= rate and used[i] + cost <= rate
  out[o + 1] = ok and 1 or 0
  if ok then out[o + 3] = 0 elseif cost > rate then out[o + 3] = -1 else out[o + 3] = left[i] end
  out[o + 4] = left[i]
  out[o + 2] = rate - used[i]
  if consume then
    out[o + 2] = rate - used[i] - cost
    redis.call('INCRBY', KEYS[i], cost)
    if used[i] == 0 then
      redis.call('PEXPIRE', KEYS[i], math.ceil(period / 1000))
      out[o + 4] = period
    end
  end
end
return out
