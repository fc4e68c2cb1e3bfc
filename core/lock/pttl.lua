-- TTL: how long the lock has left, as seen by its owner.
-- KEYS[1]  the lock; its value is the owner's token
-- ARGV[1]  the caller's token
-- Returns the remaining TTL in milliseconds, or 0 if the lock is not held by this
-- token (or, which never happens to a lock made by Obtain, has no TTL).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local ms = redis.call('PTTL', KEYS[1])
  if ms > 0 then
    return ms
  end
end
return 0
