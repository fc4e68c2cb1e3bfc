-- Sliding window counter: approximate, O(1) memory. The units of the previous
-- aligned window count in proportion to how much of it the sliding window
-- still overlaps.
-- KEYS[i]  hash {w = start of the current window (us), c = its units, p = units of
--          the previous window} of limit i
-- ARGV as in gcra.lua: now or "", cost, consume flag, then rate, period (us), burst
-- per limit (burst unused). Returns 4 integers per limit: allowed, remaining,
-- retry after (us; 0 admitted, -1 never), reset after (us until the estimate is 0).
-- Nothing is written unless every limit admits the cost.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local eps = 1e-9
local n = #KEYS
local ok, retry, est, start, cur, prev = {}, {}, {}, {}, {}, {}
local all = true
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local ws = now - (now % period)
  local h = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
  local w, c, p = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if w ~= ws then
    if w == ws - period then p = c else p = 0 end
    c = 0
  end
  local e = now - ws
  start[i], cur[i], prev[i] = ws, c, p
  est[i] = p * (period - e) / period + c
  if cost > rate then
    ok[i], retry[i] = false, -1
  elseif est[i] + cost > rate + eps then
    ok[i] = false
    if c + cost <= rate then
      -- fits later in this window, once enough of the previous one has slid out
      retry[i] = math.ceil((p * (period - e) + (c + cost - rate) * period) / p)
    else
      -- fits only in the next window, where this window's units are the weighted ones
      retry[i] = math.ceil((period - e) + period * (c + cost - rate) / c)
    end
  else
    ok[i], retry[i] = true, 0
  end
  all = all and ok[i]
end
local consume = all and ARGV[3] == '1'
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local o = (i - 1) * 4
  local e = now - start[i]
  out[o + 1] = ok[i] and 1 or 0
  out[o + 3] = retry[i]
  if consume then
    out[o + 2] = math.max(0, math.floor(rate - est[i] - cost + eps))
    out[o + 4] = math.ceil(2 * period - e)
    redis.call('HSET', KEYS[i], 'w', string.format('%.17g', start[i]), 'c', cur[i] + cost, 'p', prev[i])
    redis.call('PEXPIRE', KEYS[i], math.ceil((2 * period - e) / 1000))
  else
    out[o + 2] = math.max(0, math.floor(rate - est[i] + eps))
    if cur[i] > 0 then
      out[o + 4] = math.ceil(2 * period - e)
    elseif prev[i] > 0 then
      out[o + 4] = math.ceil(period - e)
    else
      out[o + 4] = 0
    end
  end
end
return out
