-- GCRA (generic cell rate algorithm): token-bucket semantics, one key per limit.
-- KEYS[i]  the theoretical arrival time (TAT) of limit i, microseconds since the epoch
-- ARGV[1]  now in microseconds, or "" to use the server's TIME
-- ARGV[2]  cost of this request (>= 1)
-- ARGV[3]  "1" to consume when every limit allows, "0" to only look (peek)
-- ARGV[3i+1], ARGV[3i+2], ARGV[3i+3]  rate, period (microseconds), burst of limit i+1
-- Returns 4 integers per limit: allowed (1 if this limit admits the cost), remaining
-- units, retry after (us; 0 when admitted, -1 never: cost > burst), reset after (us
-- until the bucket is full). Nothing is written unless every limit admits the cost.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local n = #KEYS
local ok, avail, retry, tat, new_tat = {}, {}, {}, {}, {}
local all = true
for i = 1, n do
  local b = 3 + (i - 1) * 3
  local rate, period, burst = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local interval = period / rate
  local tolerance = interval * burst
  local t = tonumber(redis.call('GET', KEYS[i])) or now
  if t < now then t = now end
  tat[i] = t
  new_tat[i] = t + interval * cost
  avail[i] = math.floor((now - (t - tolerance) + 0.5) / interval)
  local allow_at = new_tat[i] - tolerance
  if cost > burst then
    ok[i], retry[i] = false, -1
  elseif allow_at > now + 0.5 then -- half a microsecond of float rounding forgiven
    ok[i], retry[i] = false, math.ceil(allow_at - now)
  else
    ok[i], retry[i] = true, 0
  end
  all = all and ok[i]
end
local consume = all and ARGV[3] == '1'
local out = {}
for i = 1, n do
  local o = (i - 1) * 4
  out[o + 1] = ok[i] and 1 or 0
  out[o + 3] = retry[i]
  if consume then
    out[o + 2] = avail[i] - cost
    out[o + 4] = math.ceil(new_tat[i] - now)
    local ttl = math.ceil((new_tat[i] - now) / 1000)
    if ttl < 1 then ttl = 1 end
    redis.call('SET', KEYS[i], string.format('%.17g', new_tat[i]), 'PX', ttl)
  else
    out[o + 2] = avail[i]
    out[o + 4] = math.ceil(tat[i] - now)
  end
end
return out
