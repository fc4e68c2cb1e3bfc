-- Release a fill lock, if the caller still holds it.
-- KEYS[1]  the lock (a string with the holder's token, and a TTL)
-- ARGV[1]  the caller's token
-- Returns 1 when released, 0 when the lock was held by another or gone.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
