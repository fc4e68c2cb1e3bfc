-- Read the stored variant of a URL that a request selects: one round trip,
-- Vary included.
-- KEYS[1]   the URL's hash: v = the Vary header names of its responses
--           (lower-case, sorted, comma-joined; "" for none), u = the URL,
--           e:<variant> = one packed entry per variant
-- ARGV[1]   the Vary names the caller expects, or "*" when it does not know
-- ARGV[2..] pairs of request header name (lower-case) and normalised value:
--           those ARGV[1] names, or every request header when ARGV[1] is "*"
-- Returns false when the URL has nothing stored; {v} when v is not what
-- ARGV[1] expected (the caller asks again with v); else {v, entry}, entry
-- false when the variant is missing.
local r = redis.call('HMGET', KEYS[1], 'v', 'e:')
local v = r[1]
if not v then return false end
if v == '' then return {v, r[2]} end
if ARGV[1] ~= '*' and ARGV[1] ~= v then return {v} end
local h = {}
for i = 2, #ARGV, 2 do h[ARGV[i]] = ARGV[i + 1] end
local f = 'e:'
for name in string.gmatch(v, '[^,]+') do
  local val = h[name]
  if val then
    f = f .. name .. '=' .. #val .. ':' .. val .. ';'
  else
    f = f .. name .. ';'
  end
end
if #f > 256 then f = 'e:#' .. redis.sha1hex(f) end
return {v, redis.call('HGET', KEYS[1], f)}
