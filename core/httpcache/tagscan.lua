-- One page of a tag index that InvalidateTags took aside (see tagtake.lua): a
-- script, so that it runs on the key's master. A client that reads from
-- replicas would send a plain SSCAN to a replica, which may not have the
-- moved index yet, and the entries it names would stay cached.
-- KEYS[1]  the index taken aside
-- ARGV[1]  the SSCAN cursor, ARGV[2] its COUNT
-- Returns SSCAN's reply: {next cursor, members}.
return redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
