#!lua
-- ADD_POSTS: the dual write of posts of one account (add_user_post[s]), or their records only
-- (the migration and the follower).
-- KEYS[1] = posted_tweets:{username}; KEYS[2..] = post record keys, one per post (none: legacy only).
-- ARGV[1] = JSON string of the username; ARGV[2] = '1' to ZADD the members, '0' to write the
-- records only (it never writes the sorted set); then per post: score, member, record JSON.
-- Returns the number of new sorted-set members (ZADD) or of new records. A key of the wrong
-- type fails the call before any write with ``WRONGTYPE {key} holds a ...``. The members go in
-- one ZADD and the new records in one JSON.MSET (JSON.SET each on a RedisJSON without it); a
-- record that exists only gains the account when missing; an id repeated in one call is
-- written once, with its first content.
local zt = redis.call('TYPE', KEYS[1])['ok']
if zt ~= 'zset' and zt ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. zt .. ', not a sorted set')
end
local fresh = {}
for i = 2, #KEYS do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t == 'none' then
    fresh[i] = true
  elseif t ~= 'ReJSON-RL' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a JSON record')
  end
end
local legacy = ARGV[2] == '1'
local n = (#ARGV - 2) / 3
local added = 0
if legacy and n > 0 then
  local scored = {}
  for i = 0, n - 1 do
    scored[2 * i + 1] = ARGV[3 + 3 * i]
    scored[2 * i + 2] = ARGV[4 + 3 * i]
  end
  added = redis.call('ZADD', KEYS[1], unpack(scored))
end
if #KEYS > 1 then
  local new, seen, created = {}, {}, 0
  for i = 0, n - 1 do
    local key = KEYS[2 + i]
    if not seen[key] then
      seen[key] = true
      if fresh[2 + i] then
        new[#new + 1] = key
        new[#new + 1] = '$'
        new[#new + 1] = ARGV[5 + 3 * i]
        created = created + 1
      else
        local idx = redis.call('JSON.ARRINDEX', key, '$.accounts', ARGV[1])
        if idx[1] == nil then
          redis.call('JSON.SET', key, '$.accounts', '[' .. ARGV[1] .. ']')
        elseif idx[1] == -1 then
          redis.call('JSON.ARRAPPEND', key, '$.accounts', ARGV[1])
        end
      end
    end
  end
  if #new > 0 then
    local done = redis.pcall('JSON.MSET', unpack(new))
    if type(done) == 'table' and done.err then
      for j = 1, #new, 3 do
        redis.call('JSON.SET', new[j], '$', new[j + 2])
      end
    end
  end
  if not legacy then added = created end
end
return added
