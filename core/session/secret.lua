-- Fetch the secret that keys user tags, creating it if there is none yet: the
-- first instance of a fleet to ask stores its random candidate, and every
-- instance then reads the same value. It is the one key without a TTL: losing
-- it ends every session bound to a user.
-- KEYS[1]  the secret
-- ARGV[1]  a random candidate, stored only if KEYS[1] does not exist
-- Returns the secret.
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
