#!lua
-- UPSERT_ACCOUNT: a TwitterAccount record from legacy account data (the migration and the follower).
-- KEYS[1] = account record key. ARGV[1] = 'write' or 'check' (tell what would change, write
-- nothing); ARGV[2] = the full record JSON, written when the record is missing; then triples
-- (mode, field, JSON value) for an existing record: mode 'm' (metadata) sets the field when it
-- differs, mode 't' (action time) only moves it forward (sets it when missing, null or lower).
-- Values are compared decoded, so 1.0 == 1. Returns {code, changed fields...}: code 1 (created),
-- 2 (updated) or 0 (unchanged: nothing written). This is the only copy of the refresh rule.
local write = ARGV[1] == 'write'
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then
  if write then redis.call('JSON.SET', KEYS[1], '$', ARGV[2]) end
  return {1}
end
if t ~= 'ReJSON-RL' then
  return redis.error_reply('WRONGTYPE account record key holds a ' .. t)
end
local out = {0}
for i = 3, #ARGV - 2, 3 do
  local mode, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local path = '$.' .. field
  local cur = cjson.decode(redis.call('JSON.GET', KEYS[1], path))[1]
  local new = cjson.decode(value)
  local change
  if cur == nil or cur == cjson.null then
    change = true
  elseif mode == 't' then
    change = type(cur) ~= 'number' or cur < new
  else
    change = cur ~= new
  end
  if change then
    if write then redis.call('JSON.SET', KEYS[1], path, value) end
    out[1] = 2
    out[#out + 1] = field
  end
end
return out
