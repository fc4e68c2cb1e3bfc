-- Refresh: give the lock a new TTL, only if the caller still owns it.
-- KEYS[1]  the lock; its value is the owner's token
-- ARGV[1]  the caller's token
-- ARGV[2]  the new TTL in milliseconds
-- Returns 1 if the TTL was set, 0 if the lock is not held by this token.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
