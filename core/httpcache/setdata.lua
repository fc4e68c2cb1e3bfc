-- Store the value a load produced, in place of the load's marker: only
-- while the marker is there, so an invalidation that came during the load
-- (Delete and InvalidateTags remove the marker, Set replaces it) is never
-- undone, and a load that outlived its marker (Options.FillTimeout) does
-- not store.
-- KEYS[1]  the value's key, holding the caller's marker (see GetOrLoad)
-- ARGV[1]  the packed value
-- ARGV[2]  how long to keep it, in milliseconds
-- ARGV[3]  the caller's marker
-- Returns 1 when stored, 0 when not.
if redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
