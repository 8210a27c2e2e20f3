"""Server-side Lua scripts, each one atomic round trip, run by name through ``protocol.Script``.

A script is not rolled back when a command in it fails, so those that write two keys
(``ADD_POSTS``, ``SAVE_LINK``) check the key types first and fail before any write. MULTI/EXEC
would not do: a command failing inside EXEC (e.g. WRONGTYPE) does not undo the others, and the
account list of a post needs a conditional append.
"""

from __future__ import annotations


def server_message(error: Exception) -> str:
    """The server's own error message: redis-py prefixes pipeline errors with the command and its
    arguments (post texts, tokens), which must not reach logs or reports."""
    return str(error).rsplit("caused error: ", 1)[-1]

#: KEYS[1] = posted_tweets:{username}; KEYS[2..] = post record keys (none: legacy only).
#: ARGV[1] = JSON string of the username; ARGV[2] = '1' to ZADD the members, '0' to write the
#: records only (the migration: it never writes a legacy key); then per post: score, member,
#: record JSON. Returns the number of new sorted-set members (ZADD) or of new records.
#: A key of the wrong type fails the call before any write with ``WRONGTYPE {key} holds a ...``.
ADD_POSTS = """#!lua
local zt = redis.call('TYPE', KEYS[1])['ok']
if zt ~= 'zset' and zt ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. zt .. ', not a sorted set')
end
local with_records = #KEYS > 1
if with_records then
  for i = 2, #KEYS do
    local t = redis.call('TYPE', KEYS[i])['ok']
    if t ~= 'ReJSON-RL' and t ~= 'none' then
      return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a JSON record')
    end
  end
end
local legacy = ARGV[2] == '1'
local added = 0
local n = (#ARGV - 2) / 3
for i = 0, n - 1 do
  if legacy then
    added = added + redis.call('ZADD', KEYS[1], ARGV[3 + 3 * i], ARGV[4 + 3 * i])
  end
  if with_records then
    local key = KEYS[2 + i]
    if redis.call('JSON.SET', key, '$', ARGV[5 + 3 * i], 'NX') then
      if not legacy then added = added + 1 end
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
return added
"""

#: KEYS[1] = {action_type}:{username}; KEYS[2] = account record key (optional).
#: ARGV[1] = JSON number; ARGV[2] = JSON merge patch for the record. SET replaces a key of any
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
