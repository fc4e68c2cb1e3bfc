-- Claim an idempotency record, or read it: one round trip either way. A
-- duplicate waiting for a request in flight (WaitInFlight) polls with this
-- script too, so it sees the fingerprint of whatever record is there by
-- then, and claims the key itself if the first claim was released.
-- KEYS[1]  the record: a hash {st = "p" (in flight) | "d" (done), tok = owner token
--          while in flight, fp = request fingerprint, resp = stored response when done}
-- ARGV[1]  owner token of this request (128 random bits)
-- ARGV[2]  request fingerprint
-- ARGV[3]  claim TTL in milliseconds
-- Returns {"claimed"} when this request now owns the record, else
-- {st, fp, resp} of the record that exists.
local v = redis.call('HMGET', KEYS[1], 'st', 'fp', 'resp')
if not v[1] then
  redis.call('HSET', KEYS[1], 'st', 'p', 'tok', ARGV[1], 'fp', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
return {v[1], v[2] or '', v[3] or ''}
