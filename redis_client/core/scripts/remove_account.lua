#!lua
-- REMOVE_ACCOUNT: an account's legacy keys and records.
-- KEYS = legacy keys to delete, then (after ARGV[2] of them) post record keys.
-- ARGV[1] = JSON string of the username; ARGV[2] = number of legacy keys (account record included).
-- A post record shared with another account only loses this account from its list.
-- Returns the number of keys deleted.
local n_plain = tonumber(ARGV[2])
local deleted = 0
for i = 1, n_plain do
  deleted = deleted + redis.call('DEL', KEYS[i])
end
for i = n_plain + 1, #KEYS do
  local key = KEYS[i]
  if redis.call('TYPE', key)['ok'] == 'ReJSON-RL' then
    local idx = redis.call('JSON.ARRINDEX', key, '$.accounts', ARGV[1])[1]
    local len = redis.call('JSON.ARRLEN', key, '$.accounts')[1]
    if idx ~= nil and idx >= 0 then
      if len == 1 then
        deleted = deleted + redis.call('DEL', key)
      else
        redis.call('JSON.ARRPOP', key, '$.accounts', idx)
      end
    end
  end
end
return deleted
