#!lua
-- FOLLOW_UNLINK_POSTS: takes one account out of the accounts of post records whose id its
-- sorted set no longer holds (the follower; it never writes a legacy key); a record left with
-- no account is deleted.
-- KEYS[1] = posted_tweets:{username} (read only); KEYS[2..] = post record keys.
-- ARGV[1] = JSON string of the username; ARGV[2..4] = the ZCARD, newest score and members at
-- that score the caller read ('0', '-inf', '0' for no key); ARGV[5..] = the records' ids (same
-- order as the keys). Members appended since the caller's read (at or above its newest score)
-- are decoded, and a record whose id they hold is kept (numeric ids, as older writers stored
-- them, compared as numbers; malformed members ignored). Any other change since (a removal, an
-- insertion below) writes nothing and returns {-1}: the caller reads again. Else returns
-- {unlinked, deleted, kept}.
local t = redis.call('TYPE', KEYS[1])['ok']
local card, top, at_top = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local appended, numbers = {}, {}
if t == 'zset' then
  local window = redis.call('ZRANGE', KEYS[1], top, '+inf', 'BYSCORE')
  if redis.call('ZCARD', KEYS[1]) - card ~= #window - at_top then return {-1} end
  for i = 1, #window do
    local ok, member = pcall(cjson.decode, window[i])
    local id = ok and type(member) == 'table' and member['id'] or nil
    if type(id) == 'string' then
      appended[id] = true
    elseif type(id) == 'number' then
      numbers[id] = true
    end
  end
elseif t ~= 'none' or card ~= 0 then
  return {-1}
end
local unlinked, deleted, kept = 0, 0, 0
for i = 2, #KEYS do
  local key, id = KEYS[i], ARGV[3 + i]
  if appended[id] or (tonumber(id) ~= nil and numbers[tonumber(id)]) then
    kept = kept + 1
  elseif redis.call('TYPE', key)['ok'] == 'ReJSON-RL' then
    local idx = redis.call('JSON.ARRINDEX', key, '$.accounts', ARGV[1])[1]
    if idx ~= nil and idx >= 0 then
      if redis.call('JSON.ARRLEN', key, '$.accounts')[1] == 1 then
        deleted = deleted + redis.call('DEL', key)
      else
        redis.call('JSON.ARRPOP', key, '$.accounts', idx)
        unlinked = unlinked + 1
      end
    end
  end
end
return {unlinked, deleted, kept}
