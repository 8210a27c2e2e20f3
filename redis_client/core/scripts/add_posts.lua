#!lua
-- ADD_POSTS: posts of one account, as sorted-set members and Post records (add_user_post[s]),
-- or as records only (the migration and the follower: the sorted set is never written).
-- KEYS[1] = posted_tweets:{username} (read in '1' mode only: a record-only call on a cluster
-- passes its first record key, so that all its keys lie in one slot); KEYS[2..] = the posts'
-- record keys, one per post in ARGV's order (none: members only, without the JSON and search
-- modules, or on a cluster, whose records are written by other calls).
-- ARGV[1] = JSON string of the username; ARGV[2] = '1', then per post its score and member
-- (ZADD them, and write the records), or '0', then per post its JSON object (records only).
-- A new record is the post's JSON object (its member) with the account list added last:
-- ', "accounts": [username]}'. A record that exists only gains the account when missing; a key
-- repeated in one call is written once, with its first post. A key of the wrong type fails the
-- call before any write: 'WRONGTYPE {key} holds a {type}, not a ...'.
-- Returns the number of new members ('1') or of new records ('0').
-- One post with its record (add_user_post) takes a shorter path with the same effect:
-- JSON.SET NX instead of JSON.MGET + JSON.MSET (about 6 us less server time a call).
-- An existing record gains the account when its list lacks it (or has no list).
local function link(key)
  local idx = redis.call('JSON.ARRINDEX', key, '$.accounts', ARGV[1])
  if idx[1] == nil then
    redis.call('JSON.SET', key, '$.accounts', '[' .. ARGV[1] .. ']')
  elseif idx[1] == -1 then
    redis.call('JSON.ARRAPPEND', key, '$.accounts', ARGV[1])
  end
end
local zadd = ARGV[2] == '1'
local step = zadd and 2 or 1
local n = (#ARGV - 2) / step
if zadd then
  local t = redis.call('TYPE', KEYS[1])['ok']
  if t ~= 'zset' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. t .. ', not a sorted set')
  end
end
if zadd and n == 1 and #KEYS == 2 then
  local key = KEYS[2]
  local record = string.sub(ARGV[4], 1, -2) .. ', "accounts": [' .. ARGV[1] .. ']}'
  local done = redis.pcall('JSON.SET', key, '$', record, 'NX')
  if type(done) == 'table' and done.err then
    local t = redis.call('TYPE', key)['ok']
    if t ~= 'none' and t ~= 'ReJSON-RL' then
      return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t .. ', not a JSON record')
    end
    return done
  end
  if not done then link(key) end  -- the record exists
  return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
end
local created = 0
if #KEYS > 1 then
  -- Which records exist: JSON.MGET answers nil for a missing key and for a key of another
  -- type; JSON.MSET then refuses the latter, atomically, before writing anything.
  local query = {}
  for i = 1, n do query[i] = KEYS[i + 1] end
  query[n + 1] = '$.accounts'
  local found = redis.call('JSON.MGET', unpack(query))
  local suffix = ', "accounts": [' .. ARGV[1] .. ']}'
  local new, old, seen = {}, {}, {}
  for i = 1, n do
    local key = KEYS[i + 1]
    if not seen[key] then
      seen[key] = true
      if found[i] then
        old[#old + 1] = key
      else
        new[#new + 1] = key
        new[#new + 1] = '$'
        new[#new + 1] = string.sub(ARGV[2 + step * i], 1, -2) .. suffix
      end
    end
  end
  if #new > 0 then
    local done = redis.pcall('JSON.MSET', unpack(new))
    if type(done) == 'table' and done.err then
      for j = 1, #new, 3 do
        local t = redis.call('TYPE', new[j])['ok']
        if t ~= 'none' and t ~= 'ReJSON-RL' then
          return redis.error_reply('WRONGTYPE ' .. new[j] .. ' holds a ' .. t .. ', not a JSON record')
        end
      end
      for j = 1, #new, 3 do  -- a RedisJSON before 2.6 has no JSON.MSET
        redis.call('JSON.SET', new[j], '$', new[j + 2])
      end
    end
    created = #new / 3
  end
  for _, key in ipairs(old) do link(key) end
end
if zadd and n > 0 then
  return redis.call('ZADD', KEYS[1], unpack(ARGV, 3))
end
return created
