-- List a user's live sessions with their metadata, forgetting dead ones.
-- KEYS[1]  the user's index (see create.lua); ARGV[1] key prefix of its sessions
-- Returns, per live session: hash, created, last seen, deadline, user agent, address.
local out = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local v = redis.call('HMGET', ARGV[1] .. m, '_c', '_s', '_d', '_a', '_i')
  if v[3] then
    out[#out + 1] = m
    for i = 1, 5 do out[#out + 1] = v[i] or '' end
  else
    redis.call('ZREM', KEYS[1], m)
  end
end
return out
