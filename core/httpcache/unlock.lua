-- Release a fill lock (or a load's marker), if the caller still holds it.
-- KEYS[1]  the lock (a string with the holder's token, and a TTL), or the
--          value's key holding the holder's marker
-- ARGV[1]  the caller's token, or marker
-- Returns 1 when released, 0 when the lock was held by another or gone.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
