#!lua
-- POSTING_RESERVE: take an account's next posting slot, or say how long until it is free.
-- KEYS[1] = posted_tweets:{username} (only read: its newest score); KEYS[2] = the account's
-- reservation, a hash: go (server time the last slot was taken, µs), token (its taker's),
-- prev and prev_until (the go before it, and when that reservation was to expire in ms: what
-- a release puts back). ARGV[1] = µs from the newest post's score to the next slot; ARGV[2] =
-- µs from the last go to it; ARGV[3] = this call's token; ARGV[4] = the reservation's life
-- (ms). Times come from TIME: one clock, the server's, for every agent.
-- Returns 0 when the slot is now this token's (a retry of the call that took it: 0 again),
-- else the µs to wait before asking again.
local held = redis.call('HMGET', KEYS[2], 'go', 'token')
if held[2] == ARGV[3] then return 0 end
local free = 0
local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2] or '')
if newest and newest > -math.huge and newest < math.huge then
  free = newest * 1000000 + tonumber(ARGV[1])
end
if held[1] then free = math.max(free, tonumber(held[1]) + tonumber(ARGV[2])) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
if now < free then return math.ceil(free - now) end
local prev_until = ''
if held[1] then prev_until = redis.call('PEXPIRETIME', KEYS[2]) end
redis.call('HSET', KEYS[2], 'go', string.format('%d', now), 'token', ARGV[3],
           'prev', held[1] or '', 'prev_until', prev_until)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 0
