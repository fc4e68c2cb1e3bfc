-- Fixed window on the application's clock (Options.Clock): a window opens with
-- the first request after the previous one closed and lasts period. Redis TTLs
-- follow the server's clock, so the window's start is stored with its count.
-- KEYS[i]  the string "<start of the window in us> <units used>" of limit i
-- ARGV[1]  now in microseconds; ARGV[2] cost; ARGV[3] "1" to consume; then rate,
--          period (us), burst per limit (burst unused)
-- Returns 4 integers per limit: allowed, remaining, retry after (us; 0 admitted,
-- -1 never), reset after (us until the window closes). Nothing is written unless
-- every limit admits the cost.
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local n = #KEYS
local used, start = {}, {}
local all = true
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  used[i], start[i] = 0, now
  local v = redis.call('GET', KEYS[i])
  if v then
    local sp = string.find(v, ' ', 1, true)
    local s = sp and tonumber(string.sub(v, 1, sp - 1))
    if s and now >= s and now < s + period then
      used[i], start[i] = tonumber(string.sub(v, sp + 1)) or 0, s
    end
  end
  if cost > rate or used[i] + cost > rate then all = false end
end
local consume = all and ARGV[3] == '1'
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local o = (i - 1) * 4
  local ok = cost <= rate and used[i] + cost <= rate
  local left = 0
  if used[i] > 0 then left = start[i] + period - now end
  out[o + 1] = ok and 1 or 0
  if ok then out[o + 3] = 0 elseif cost > rate then out[o + 3] = -1 else out[o + 3] = left end
  out[o + 2] = rate - used[i]
  out[o + 4] = left
  if consume then
    out[o + 2] = rate - used[i] - cost
    out[o + 4] = start[i] + period - now
    -- formatted by hand: Lua's own number conversion keeps 14 digits, too few
    redis.call('SET', KEYS[i], string.format('%.17g', start[i]) .. ' ' .. (used[i] + cost), 'PX', math.ceil((start[i] + period - now) / 1000))
  end
end
return out
