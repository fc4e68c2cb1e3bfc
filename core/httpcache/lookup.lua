-- Read the stored variant of a URL that a request selects, and the URL's
-- generation; on a miss, take the fill lock of what the caller would fill.
-- One round trip, Vary included, and one read of the URL's hash.
-- KEYS[1]   the URL's hash: g = the URL's generation, set anew by every
--           invalidation (absent until the first; an invalidation leaves
--           the hash holding only g), v = the Vary names of its responses
--           (lower-case, sorted, comma-joined; "" for none), u = the URL,
--           e:<variant> = one packed entry per variant
-- KEYS[2]   the fill lock taken when the URL has nothing stored (same slot)
-- KEYS[3]   the fill lock taken when the URL has responses but not the
--           variant ARGV[5] names (same slot)
-- ARGV[1]   the Vary names the caller expects, or "*" when it does not know
-- ARGV[2]   the start of the request's variant fields, "e:<scheme>|"
-- ARGV[3]   the caller's lock token, "" to take no lock
-- ARGV[4]   how long a lock is held, in milliseconds
-- ARGV[5]   the variant field ARGV[1] selects for the request, "" when
--           ARGV[1] is "*"
-- ARGV[6..] when ARGV[1] is "*": pairs of name (lower-case) and
--           normalised value of every field of the request ("@session" is
--           the request's session)
-- Returns {g, v} when v is not what ARGV[1] expected (the caller asks
-- again with v); else {g, v, entry, lock}: v false when the URL has
-- nothing stored, entry false when the variant is missing, g the
-- generation (false when there is none), and lock 1 when the caller now
-- holds the fill lock, 0 when another does, -1 when none was taken (no
-- token, a variant is stored, or ARGV[1] was "*" and the URL has
-- responses), or the error that refused it (such as OOM).
local g, v, e
if ARGV[5] ~= '' then
  local r = redis.call('HMGET', KEYS[1], 'g', 'v', ARGV[5])
  g, v, e = r[1], r[2], r[3]
  if v and v ~= ARGV[1] then return {g, v} end
else
  local r = redis.call('HMGET', KEYS[1], 'g', 'v')
  g, v, e = r[1], r[2], false
  if v == '' then
    e = redis.call('HGET', KEYS[1], ARGV[2])
  elseif v then
    local h = {}
    for i = 6, #ARGV, 2 do h[ARGV[i]] = ARGV[i + 1] end
    local f = ARGV[2]
    for name in string.gmatch(v, '[^,]+') do
      local val = h[name]
      if val then
        f = f .. name .. '=' .. #val .. ':' .. val .. ';'
      else
        f = f .. name .. ';'
      end
    end
    if #f > 256 then f = 'e:#' .. redis.sha1hex(f) end
    e = redis.call('HGET', KEYS[1], f)
  end
end
local l = -1
if not e and ARGV[3] ~= '' and (not v or ARGV[5] ~= '') then
  local r = redis.pcall('SET', v and KEYS[3] or KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4])
  if type(r) == 'table' and r.err then
    l = r.err
  elseif r or redis.call('GET', v and KEYS[3] or KEYS[2]) == ARGV[3] then
    l = 1 -- (the caller's own: a retried call)
  else
    l = 0
  end
end
return {g, v, e, l}
