#!lua
-- SET_ACTION_TIME: an account's last action time, in its legacy key and its record.
-- KEYS[1] = {action_type}:{username}; KEYS[2] = account record key (optional).
-- ARGV[1] = JSON number; ARGV[2] = JSON merge patch for the record. SET replaces a key of any
-- type (as the original tool's SET did); the record is patched only when it is a JSON record.
-- Returns 1 when the record was patched, else 0.
redis.call('SET', KEYS[1], ARGV[1])
if #KEYS > 1 and redis.call('TYPE', KEYS[2])['ok'] == 'ReJSON-RL' then
  redis.call('JSON.MERGE', KEYS[2], '$', ARGV[2])
  return 1
end
return 0
