-- Release: delete the lock, only if the caller still owns it.
-- KEYS[1]  the lock; its value is the owner's token
-- ARGV[1]  the caller's token
-- Returns 1 if the lock was deleted, 0 if it is not held by this token.
-- The fence counter is left alone: it must outlive the lock (it has a TTL of its own).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
