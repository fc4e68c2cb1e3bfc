-- Extend a claim while its handler runs, if this request still owns it.
-- KEYS[1]  the record (see claim.lua)
-- ARGV[1]  owner token
-- ARGV[2]  claim TTL in milliseconds
-- Returns 1 when extended, 0 when the claim was lost.
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
