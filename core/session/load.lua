-- Load a session and slide its idle expiry (and, for Session.Incr on a session
-- not loaded yet, add to one of its integer values): one round trip.
-- KEYS[1]  the session: a hash of values ("v:<name>") and metadata ("_c" created,
--          "_s" last seen, "_d" absolute deadline (the end of the Lifetime, or an
--          earlier Session.SetDeadline), all ms since the epoch; "_p" the
--          RememberMe choice; for a session bound to a user, "_u" the user, "_a"
--          the user agent and "_i" the address of its login, "_k" the
--          fingerprint of the secret it was bound under)
-- KEYS[2]  the session's renewal marker (see take.lua)
-- ARGV[1]  now in milliseconds, or "" to use the server's TIME
-- ARGV[2]  idle timeout in milliseconds (0: none)
-- ARGV[3]  the fingerprint "_k" must hold (a session bound to a user), or ""
-- ARGV[4]  optional: the field of an integer value to add to; ARGV[5] what to add
-- Returns 0 when there is no live session (one that has ended is deleted; one
-- bound under another secret is left as it is), 2 when its ID was renewed
-- moments ago (the marker exists), else the fields and values as they were
-- before this call followed by now and incr, which is 0 (no increment asked),
-- {n} (the new value) or -1 (the value is not an integer, nothing added).
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
end
local v = redis.call('HGETALL', KEYS[1])
local n = #v
if n == 0 then
  if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
  return 0
end
local deadline, seen, fp
for i = 1, n, 2 do
  local f = v[i]
  if f == '_d' then deadline = tonumber(v[i + 1])
  elseif f == '_s' then seen = tonumber(v[i + 1])
  elseif f == '_k' then fp = v[i + 1] end
end
-- (A session bound before fingerprints were kept has none: the caller checks
-- its user tag instead.)
if ARGV[3] ~= '' and fp and fp ~= ARGV[3] then return 0 end
local idle = tonumber(ARGV[2])
if not deadline or now >= deadline or (idle > 0 and seen and now - seen >= idle) then
  redis.call('DEL', KEYS[1])
  return 0
end
-- The idle expiry is slid (last seen and TTL rewritten) at most once per
-- hundredth of the idle timeout, and at most a second apart, not on every
-- request: a session read in a burst is written once. It can then end up to
-- that much before IdleTimeout after its last request, never after. It is
-- slid whenever now enters a new tenth of the idle timeout too, the step at
-- which the cookie's Max-Age is renewed (Manager.refreshDue), so a renewed
-- cookie always matches the server's expiry. Without idle expiry (idle 0)
-- only the last-seen time moves, once a second.
local every = 1000
if idle > 0 and idle < 100000 then every = math.max(math.floor(idle / 100), 1) end
local step = math.max(math.floor(idle / 10), 1)
local slide = not seen or now < seen or now - seen >= every or
  (idle > 0 and math.floor(now / step) ~= math.floor(seen / step))
if slide then
  -- Out of memory under noeviction, Redis refuses HSET: the session is then read
  -- as it is, neither slid nor added to (an increment fails), so a request that
  -- only reads its session still works, and nothing is written.
  local r = redis.pcall('HSET', KEYS[1], '_s', now)
  if type(r) == 'table' and r.err then
    if ARGV[4] then return redis.error_reply(r.err) end
    v[n + 1] = now
    v[n + 2] = 0
    return v
  end
  local ttl = deadline - now
  if idle > 0 and idle < ttl then ttl = idle end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local incr = 0
if ARGV[4] then
  incr = redis.pcall('HINCRBY', KEYS[1], ARGV[4], ARGV[5])
  if type(incr) == 'number' then
    incr = {incr}
  elseif not slide and string.sub(incr.err, 1, 3) == 'OOM' then
    return redis.error_reply(incr.err) -- as a refused slide answers above
  else
    incr = -1
  end
end
v[n + 1] = now
v[n + 2] = incr
return v
