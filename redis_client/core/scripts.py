"""Server-side Lua scripts, each one atomic round trip, run by name through ``protocol.Script``.

A script is not rolled back when a command in it fails, so those that write two keys
(``ADD_POSTS``, ``SAVE_LINK``) check the key types first and fail before any write. MULTI/EXEC
would not do: a command failing inside EXEC (e.g. WRONGTYPE) does not undo the others, and the
account list of a post needs a conditional append.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .protocol import Script


def server_message(error: Exception) -> str:
    """The server's own error message: redis-py prefixes pipeline errors with the command and its
    arguments (post texts, tokens), which must not reach logs or reports."""
    return str(error).rsplit("caused error: ", 1)[-1]

#: KEYS[1] = posted_tweets:{username}; KEYS[2..] = post record keys (none: legacy only).
#: ARGV[1] = JSON string of the username; ARGV[2] = '1' to ZADD the members, '0' to write the
#: records only (it never writes the sorted set); then per post: score, member, record JSON.
#: Returns the number of new sorted-set members (ZADD) or of new records. A key of the wrong
#: type fails the call before any write with ``WRONGTYPE {key} holds a ...``. The members go in
#: one ZADD and the new records in one JSON.MSET (JSON.SET each on a RedisJSON without it); a
#: record that exists only gains the account when missing; an id repeated in one call is
#: written once, with its first content.
ADD_POSTS = """#!lua
local zt = redis.call('TYPE', KEYS[1])['ok']
if zt ~= 'zset' and zt ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. zt .. ', not a sorted set')
end
local fresh = {}
for i = 2, #KEYS do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t == 'none' then
    fresh[i] = true
  elseif t ~= 'ReJSON-RL' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a JSON record')
  end
end
local legacy = ARGV[2] == '1'
local n = (#ARGV - 2) / 3
local added = 0
if legacy and n > 0 then
  local scored = {}
  for i = 0, n - 1 do
    scored[2 * i + 1] = ARGV[3 + 3 * i]
    scored[2 * i + 2] = ARGV[4 + 3 * i]
  end
  added = redis.call('ZADD', KEYS[1], unpack(scored))
end
if #KEYS > 1 then
  local new, seen, created = {}, {}, 0
  for i = 0, n - 1 do
    local key = KEYS[2 + i]
    if not seen[key] then
      seen[key] = true
      if fresh[2 + i] then
        new[#new + 1] = key
        new[#new + 1] = '$'
        new[#new + 1] = ARGV[5 + 3 * i]
        created = created + 1
      else
        local idx = redis.call('JSON.ARRINDEX', key, '$.accounts', ARGV[1])
        if idx[1] == nil then
          redis.call('JSON.SET', key, '$.accounts', '[' .. ARGV[1] .. ']')
        elseif idx[1] == -1 then
          redis.call('JSON.ARRAPPEND', key, '$.accounts', ARGV[1])
        end
      end
    end
  end
  if #new > 0 then
    local done = redis.pcall('JSON.MSET', unpack(new))
    if type(done) == 'table' and done.err then
      for j = 1, #new, 3 do
        redis.call('JSON.SET', new[j], '$', new[j + 2])
      end
    end
  end
  if not legacy then added = created end
end
return added
"""

#: KEYS[1] = {action_type}:{username}; KEYS[2] = account record key (optional).
#: ARGV[1] = JSON number; ARGV[2] = JSON merge patch for the record. SET replaces a key of any


def add_posts_call(
    zkey: Any, account_json: str, legacy: bool, posts: Iterable[tuple[str | None, Any, Any, str]]
) -> Script:
    """The ``ADD_POSTS`` call; ``posts``: (record key or None for no record, score, member,
    record JSON) each, in ARGV's order. ``legacy``: also ZADD the members."""
    record_keys: list[Any] = []
    args: list[Any] = [account_json, "1" if legacy else "0"]
    for record, score, member, document in posts:
        if record is not None:
            record_keys.append(record)
        args += (score, member, document)
    return Script("ADD_POSTS", [zkey, *record_keys], args)


#: type (as the original tool's SET did); the record is patched only when it is a JSON record.
SET_ACTION_TIME = """#!lua
redis.call('SET', KEYS[1], ARGV[1])
if #KEYS > 1 and redis.call('TYPE', KEYS[2])['ok'] == 'ReJSON-RL' then
  redis.call('JSON.MERGE', KEYS[2], '$', ARGV[2])
  return 1
end
return 0
"""

#: KEYS = legacy keys to delete, then (after ARGV[2] of them) post record keys.
#: ARGV[1] = JSON string of the username; ARGV[2] = number of legacy keys (account record included).
#: A post record shared with another account only loses this account from its list.
REMOVE_ACCOUNT = """#!lua
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
"""

#: KEYS[1] = created_tweet:{function_name}; KEYS[2] = this call's token key. ARGV[1] = link;
#: ARGV[2] = seconds the token lives. One entry per call, repeats included; a retry of the same
#: call (same token) after a lost reply finds the token and appends nothing. Returns the length.
SAVE_LINK = """#!lua
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'list' and t ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. t .. ', not a list')
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('RPUSH', KEYS[1], ARGV[1])
end
return redis.call('LLEN', KEYS[1])
"""

#: A ``TwitterAccount`` record from legacy account data (the migration and the follower).
#: KEYS[1] = account record key. ARGV[1] = 'write' or 'check' (tell what would change, write
#: nothing); ARGV[2] = the full record JSON, written when the record is missing; then triples
#: (mode, field, JSON value) for an existing record: mode 'm' (metadata) sets the field when it
#: differs, mode 't' (action time) only moves it forward (sets it when missing, null or lower).
#: Values are compared decoded, so 1.0 == 1. Returns {code, changed fields...}: code 1 (created),
#: 2 (updated) or 0 (unchanged: nothing written). This is the only copy of the refresh rule.
UPSERT_ACCOUNT = """#!lua
local write = ARGV[1] == 'write'
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then
  if write then redis.call('JSON.SET', KEYS[1], '$', ARGV[2]) end
  return {1}
end
if t ~= 'ReJSON-RL' then
  return redis.error_reply('WRONGTYPE account record key holds a ' .. t)
end
local out = {0}
for i = 3, #ARGV - 2, 3 do
  local mode, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local path = '$.' .. field
  local cur = cjson.decode(redis.call('JSON.GET', KEYS[1], path))[1]
  local new = cjson.decode(value)
  local change
  if cur == nil or cur == cjson.null then
    change = true
  elseif mode == 't' then
    change = type(cur) ~= 'number' or cur < new
  else
    change = cur ~= new
  end
  if change then
    if write then redis.call('JSON.SET', KEYS[1], path, value) end
    out[1] = 2
    out[#out + 1] = field
  end
end
return out
"""

# --- The follower (``redis_client.follow``): reads, record-only removals, its own state ---
# None of them writes a legacy key: posted_tweets and twitter_data keys are only read.

#: The state of one ``posted_tweets`` key in one atomic read. KEYS[1] = the key.
#: ARGV[1] = '' (no members), or the lowest score of the members to return ('-inf': all);
#: ARGV[2] = most members returned. Returns {type} for a key that is not a sorted set, else
#: {type, ZCARD, sha1 of the newest member, its score, members at that score, members...}.
FOLLOW_READ = """#!lua
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
"""

#: Takes one account out of the ``accounts`` of post records whose id its sorted set no longer
#: holds; a record left with no account is deleted. KEYS[1] = posted_tweets:{username} (read
#: only); KEYS[2..] = post record keys. ARGV[1] = JSON string of the username; ARGV[2..4] = the
#: ZCARD, newest score and members at that score the caller read ('0', '-inf', '0' for no key);
#: ARGV[5..] = the records' ids (same order as the keys). Members appended since the caller's
#: read (at or above its newest score) are decoded, and a record whose id they hold is kept
#: (numeric ids, as older writers stored them, compared as numbers; malformed members ignored).
#: Any other change since (a removal, an insertion below) writes nothing and returns {-1}: the
#: caller reads again. Else returns {unlinked, deleted, kept}.
FOLLOW_UNLINK_POSTS = """#!lua
local t = redis.call('TYPE', KEYS[1])['ok']
local card, top, at_top = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local appended, numbers = {}, {}
if t == 'zset' then
  local window = redis.call('ZRANGE', KEYS[1], top, '+inf', 'BYSCORE')
  if redis.call('ZCARD', KEYS[1]) - card ~= #window - at_top then return {-1} end
  for i = 1, #window do
    local ok, member = pcall(cjson.decode, window[i])
    local id = ok and type(member) == 'table' and member['id'] or nil
    if type(id) == 'string' then
      appended[id] = true
    elseif type(id) == 'number' then
      numbers[id] = true
    end
  end
elseif t ~= 'none' or card ~= 0 then
  return {-1}
end
local unlinked, deleted, kept = 0, 0, 0
for i = 2, #KEYS do
  local key, id = KEYS[i], ARGV[3 + i]
  if appended[id] or (tonumber(id) ~= nil and numbers[tonumber(id)]) then
    kept = kept + 1
  elseif redis.call('TYPE', key)['ok'] == 'ReJSON-RL' then
    local idx = redis.call('JSON.ARRINDEX', key, '$.accounts', ARGV[1])[1]
    if idx ~= nil and idx >= 0 then
      if redis.call('JSON.ARRLEN', key, '$.accounts')[1] == 1 then
        deleted = deleted + redis.call('DEL', key)
      else
        redis.call('JSON.ARRPOP', key, '$.accounts', idx)
        unlinked = unlinked + 1
      end
    end
  end
end
return {unlinked, deleted, kept}
"""

#: Deletes a ``TwitterAccount`` record whose account is gone. KEYS[1] = twitter_data:{username}
#: (read only); KEYS[2] = the account record key. Deletes it only while KEYS[1] does not exist
#: (an account re-created meanwhile keeps its record). Returns 1 when deleted, else 0.
FOLLOW_DROP_ACCOUNT = """#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('TYPE', KEYS[2])['ok'] ~= 'ReJSON-RL' then return 0 end
return redis.call('DEL', KEYS[2])
"""

#: Compare-and-set of one field of the follower's fingerprint hash. KEYS[1] = the hash;
#: ARGV[1] = field; ARGV[2] = the value the caller based its work on ('' = absent);
#: ARGV[3] = the new value ('' = delete the field). Returns 1 when set, 0 when the stored
#: value was not ARGV[2] (another follower moved it on: nothing written).
FOLLOW_SET_FINGERPRINT = """#!lua
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then cur = '' end
if cur ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
"""
