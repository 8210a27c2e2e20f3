#!lua
-- POSTING_RELEASE: give a posting slot back, when it is still its taker's (POSTING_RESERVE).
-- KEYS[1] = the account's reservation. ARGV[1] = the taker's token. The go before it comes
-- back, with its expiry, while that one would still live; else the reservation goes.
-- Returns 1 when given back, 0 when the slot was no longer this token's (taken since, or expired).
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local prev = redis.call('HMGET', KEYS[1], 'prev', 'prev_until')
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if prev[1] and prev[1] ~= '' and (tonumber(prev[2]) or 0) > now_ms then
  redis.call('HSET', KEYS[1], 'go', prev[1])
  redis.call('HDEL', KEYS[1], 'token', 'prev', 'prev_until')
  redis.call('PEXPIREAT', KEYS[1], prev[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
