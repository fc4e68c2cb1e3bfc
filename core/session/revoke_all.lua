-- Log a user out everywhere, atomically: every session in the user's index
-- is deleted, and the index with it. All keys share the user's hash tag, so
-- the session keys derived here from ARGV[1] are in KEYS[1]'s slot.
-- KEYS[1]  the user's index (see create.lua)
-- ARGV[1]  key prefix of the user's sessions
-- Returns how many live sessions were deleted.
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. m)
end
redis.call('DEL', KEYS[1])
return n
