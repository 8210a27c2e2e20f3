#!lua flags=allow-cross-slot-keys
-- ADD_RECORDS: Post records of one account's posts on a cluster, whose keys lie in several slots
-- that one node serves (the flag lets a script reach keys of other slots of its own node; a
-- multi-key command still may not, so each record is read and written by itself). The same
-- records as ADD_POSTS in record-only mode: a new record is the post's JSON object with the
-- account list added last; a record that exists only gains the account when missing; a key
-- repeated in the call is written once, with its first post.
-- KEYS[1] = the first record key (the call is routed by it). ARGV[1] = JSON string of the
-- username; then per post its record key and its JSON object.
-- Every key's type is read before anything is written: a key of another type, or one this node
-- does not serve (the slot moved), fails the call before any write.
-- Returns the number of records created.
local suffix = ', "accounts": [' .. ARGV[1] .. ']}'
local kinds = {}
for i = 2, #ARGV, 2 do
  local t = redis.call('TYPE', ARGV[i])['ok']
  if t ~= 'none' and t ~= 'ReJSON-RL' then
    return redis.error_reply('WRONGTYPE ' .. ARGV[i] .. ' holds a ' .. t .. ', not a JSON record')
  end
  kinds[i] = t
end
local created, seen = 0, {}
for i = 2, #ARGV, 2 do
  local key = ARGV[i]
  if not seen[key] then
    seen[key] = true
    if kinds[i] == 'none' then
      redis.call('JSON.SET', key, '$', string.sub(ARGV[i + 1], 1, -2) .. suffix)
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
return created
