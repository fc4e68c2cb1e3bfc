-- Read the stored variant of a URL that a request selects, and the URL's
-- generation: one round trip, Vary included.
-- KEYS[1]   the URL's hash: v = the Vary names of its responses
--           (lower-case, sorted, comma-joined; "" for none), u = the URL,
--           e:<variant> = one packed entry per variant
-- KEYS[2]   the URL's generation (same slot): set anew by every
--           invalidation; absent until the first
-- ARGV[1]   the Vary names the caller expects, or "*" when it does not know
-- ARGV[2]   the start of the request's variant fields, "e:<scheme>|"
-- ARGV[3..] pairs of name (lower-case) and normalised value of the
--           request's fields: those ARGV[1] names, or every one when
--           ARGV[1] is "*" ("@session" is the request's session)
-- Returns {g} when the URL has nothing stored; {g, v} when v is not what
-- ARGV[1] expected (the caller asks again with v); else {g, v, entry},
-- entry false when the variant is missing. g is the generation, false
-- when there is none.
local g = redis.call('GET', KEYS[2])
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return {g} end
if v == '' then return {g, v, redis.call('HGET', KEYS[1], ARGV[2])} end
if ARGV[1] ~= '*' and ARGV[1] ~= v then return {g, v} end
local h = {}
for i = 3, #ARGV, 2 do h[ARGV[i]] = ARGV[i + 1] end
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
return {g, v, redis.call('HGET', KEYS[1], f)}
