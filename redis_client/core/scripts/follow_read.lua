#!lua flags=no-writes
-- FOLLOW_READ: the state of one posted_tweets key in one atomic read (the follower; read only).
-- KEYS[1] = the key. ARGV[1] = '' (no members), or the lowest score of the members to return
-- ('-inf': all); ARGV[2] = most members returned. Returns {type} for a key that is not a sorted
-- set, else {type, ZCARD, sha1 of the newest member, its score, members at that score, members...}.
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'zset' then return {t} end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local out = {t, redis.call('ZCARD', KEYS[1]), redis.sha1hex(top[1]), top[2],
             redis.call('ZCOUNT', KEYS[1], top[2], top[2])}
if ARGV[1] ~= '' then
  local members = redis.call('ZRANGE', KEYS[1], ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
  for i = 1, #members do out[#out + 1] = members[i] end
end
return out
