#!lua
-- FOLLOW_SET_FINGERPRINT: compare-and-set of one field of the follower's fingerprint hash.
-- KEYS[1] = the hash; ARGV[1] = field; ARGV[2] = the value the caller based its work on
-- ('' = absent); ARGV[3] = the new value ('' = delete the field). Returns 1 when set, 0 when
-- the stored value was not ARGV[2] (another follower moved it on: nothing written).
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then cur = '' end
if cur ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
