#!lua
-- FOLLOW_UNLINK_RECORDS: takes one account out of the accounts of post records (the follower,
-- on a cluster, where a record and the sorted set that held its member lie in different slots;
-- on one server FOLLOW_UNLINK_POSTS does this with its guard on the set); a record left with no
-- account is deleted. Idempotent: a record that no longer lists the account is left as it is.
-- KEYS[1..] = post record keys, all in one slot. ARGV[1] = JSON string of the username.
-- Returns {unlinked, deleted}.
local unlinked, deleted = 0, 0
for i = 1, #KEYS do
  local key = KEYS[i]
  if redis.call('TYPE', key)['ok'] == 'ReJSON-RL' then
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
return {unlinked, deleted}
