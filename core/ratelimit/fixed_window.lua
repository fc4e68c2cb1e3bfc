-- Fixed window: at most rate units per window of period aligned to the epoch.
-- KEYS[i]  hash {w = start of the window (us), c = units used in it} of limit i
-- ARGV as in gcra.lua: now or "", cost, consume flag, then rate, period (us), burst
-- per limit (burst unused). Returns 4 integers per limit: allowed, remaining,
-- retry after (us; 0 admitted, -1 never), reset after (us until the window ends).
-- Nothing is written unless every limit admits the cost.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local n = #KEYS
local ok, used, start, reset = {}, {}, {}, {}
local all = true
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local ws = now - (now % period)
  local h = redis.call('HMGET', KEYS[i], 'w', 'c')
  local c = 0
  if tonumber(h[1]) == ws then c = tonumber(h[2]) or 0 end
  start[i], used[i], reset[i] = ws, c, ws + period - now
  ok[i] = cost <= rate and c + cost <= rate
  all = all and ok[i]
end
local consume = all and ARGV[3] == '1'
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate = tonumber(ARGV[b + 1])
  local o = (i - 1) * 4
  out[o + 1] = ok[i] and 1 or 0
  if ok[i] then out[o + 3] = 0 elseif cost > rate then out[o + 3] = -1 else out[o + 3] = reset[i] end
  out[o + 4] = reset[i]
  if consume then
    out[o + 2] = rate - used[i] - cost
    redis.call('HSET', KEYS[i], 'w', string.format('%.17g', start[i]), 'c', used[i] + cost)
    redis.call('PEXPIRE', KEYS[i], math.ceil(reset[i] / 1000))
  else
    out[o + 2] = math.max(0, rate - used[i])
  end
end
return out
