#!lua
-- SAVE_LINK: one tweet link appended per call of save_tweet_link, retries included.
-- KEYS[1] = created_tweet:{function_name}; KEYS[2] = this call's token key. ARGV[1] = link;
-- ARGV[2] = seconds the token lives. One entry per call, repeats included; a retry of the same
-- call (same token) after a lost reply finds the token and appends nothing. Returns the length.
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'list' and t ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. t .. ', not a list')
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('RPUSH', KEYS[1], ARGV[1])
end
return redis.call('LLEN', KEYS[1])
