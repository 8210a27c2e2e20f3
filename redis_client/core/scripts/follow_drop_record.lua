#!lua
-- FOLLOW_DROP_RECORD: deletes a TwitterAccount record (the follower, on a cluster, where the
-- record and twitter_data:{username} lie in different slots; on one server FOLLOW_DROP_ACCOUNT
-- checks the legacy key in the same call). Idempotent.
-- KEYS[1] = the account record key. Deletes it only when it is a JSON record (a key of another
-- type is left alone). Returns 1 when deleted, else 0.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'ReJSON-RL' then return 0 end
return redis.call('DEL', KEYS[1])
