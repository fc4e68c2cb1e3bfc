-- Complete a claimed record with the response, if this request still owns it.
-- KEYS[1]  the record (see claim.lua)
-- ARGV[1]  owner token
-- ARGV[2]  the encoded response
-- ARGV[3]  retention in milliseconds
-- Returns 1 when stored, 0 when the claim was lost (expired or taken over).
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'st', 'd', 'resp', ARGV[2])
redis.call('HDEL', KEYS[1], 'tok')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
