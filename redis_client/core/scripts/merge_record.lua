#!lua
-- MERGE_RECORD: a JSON merge patch into a record, when it is one (on a cluster, the second step
-- of an action time: its legacy key and its record lie in different slots).
-- KEYS[1] = the record key. ARGV[1] = the JSON merge patch.
-- Returns 1 when the record was patched, 0 when there is no JSON record there.
if redis.call('TYPE', KEYS[1])['ok'] == 'ReJSON-RL' then
  redis.call('JSON.MERGE', KEYS[1], '$', ARGV[1])
  return 1
end
return 0
