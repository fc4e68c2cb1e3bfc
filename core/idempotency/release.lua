-- Give up a claim (the handler panicked, or a 5xx is not to be kept), if
-- this request still owns it, so the client may retry.
-- KEYS[1]  the record (see claim.lua)
-- ARGV[1]  owner token
-- Returns 1 when released, 0 when the claim was not this request's.
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
