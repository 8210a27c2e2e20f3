#!lua
-- FOLLOW_DROP_ACCOUNT: deletes a TwitterAccount record whose account is gone (the follower).
-- KEYS[1] = twitter_data:{username} (read only); KEYS[2] = the account record key. Deletes it
-- only while KEYS[1] does not exist (an account re-created meanwhile keeps its record).
-- Returns 1 when deleted, else 0.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('TYPE', KEYS[2])['ok'] ~= 'ReJSON-RL' then return 0 end
return redis.call('DEL', KEYS[2])
