-- Add an entry to a tag's index.
-- KEYS[1]  the tag's index: a set of the Redis keys of the entries it tags
-- ARGV[1]  the Redis key of the entry
-- ARGV[2]  how long the entry is kept, in milliseconds
-- The index lives at least as long as the entry it just gained. Returns 1.
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
