-- Sliding window log: exact. A sorted set per limit holds one member per unit
-- consumed, scored by its time; the window is (now - period, now].
-- KEYS[1..n]  the sorted set of limit i
-- KEYS[n+1]   a sequence counter that keeps members unique
-- ARGV as in gcra.lua: now or "", cost, consume flag, then rate, period (us), burst
-- per limit (burst unused). Returns 4 integers per limit: allowed, remaining,
-- retry after (us; 0 admitted, -1 never), reset after (us until the window is empty).
-- Nothing is written unless every limit admits the cost.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local n = #KEYS - 1
local ok, retry, count, reset = {}, {}, {}, {}
local all = true
local longest = 0
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  if period > longest then longest = period end
  local from = '(' .. string.format('%.17g', now - period)
  count[i] = redis.call('ZCOUNT', KEYS[i], from, '+inf')
  reset[i] = 0
  if count[i] > 0 then
    local newest = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    reset[i] = math.ceil(tonumber(newest[2]) + period - now)
  end
  if cost > rate then
    ok[i], retry[i] = false, -1
  elseif count[i] + cost > rate then
    -- the oldest (count + cost - rate) units must leave the window first
    local e = redis.call('ZRANGEBYSCORE', KEYS[i], from, '+inf', 'WITHSCORES', 'LIMIT', count[i] + cost - rate - 1, 1)
    ok[i], retry[i] = false, math.ceil(tonumber(e[2]) + period - now)
  else
    ok[i], retry[i] = true, 0
  end
  all = all and ok[i]
end
local consume = all and ARGV[3] == '1'
local seq = 0
if consume then
  seq = redis.call('INCRBY', KEYS[n + 1], cost) - cost
  -- numbers are formatted by hand: Lua's own conversion keeps 14 digits, too few for microseconds
  redis.call('PEXPIRE', KEYS[n + 1], math.ceil(longest / 1000))
end
local score = string.format('%.17g', now)
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local o = (i - 1) * 4
  out[o + 1] = ok[i] and 1 or 0
  out[o + 3] = retry[i]
  if consume then
    out[o + 2] = rate - count[i] - cost
    out[o + 4] = period
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%.17g', now - period))
    local j = 1
    while j <= cost do -- in chunks, to stay within Lua's stack for large costs
      local args = {}
      local last = math.min(cost, j + 99)
      for k = j, last do
        args[#args + 1] = score
        args[#args + 1] = score .. '-' .. string.format('%.17g', seq + k)
      end
      redis.call('ZADD', KEYS[i], unpack(args))
      j = last + 1
    end
    redis.call('PEXPIRE', KEYS[i], math.ceil(period / 1000))
  else
    out[o + 2] = math.max(0, rate - count[i])
    out[o + 4] = reset[i]
  end
end
return out
