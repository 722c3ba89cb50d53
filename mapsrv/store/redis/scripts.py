"""The Lua scripts of ``RedisStore``, one per atomic step (the key layout and what each step
guarantees are at the top of mapsrv/store/redis.py)."""

__all__ = [
    "CLAIM",
    "COMMIT",
    "CREATE",
    "DELETE",
    "EVENTS_AFTER",
    "GCRA",
    "NOTICE",
    "PRESENCE",
    "RESTORE",
    "UPLOAD_SWAP",
]

# KEYS: map, log, batches, edit keys. ARGV: expected version, the summary (title, feature count, unix s, who
# changed it last: joined by newlines), log size, channel, snapshot JSON or '', snapshot version,
# batch id or '', batch memory, the writer's tag and a space (prefixed to what is published,
# never to the log), 'PUBLISH' or 'SPUBLISH' (a Cluster: the channel shares the map's slot), then
# (version, event JSON) pairs. A map somebody drew on is kept: its keys lose their time to live.
COMMIT = """
if ARGV[7] ~= '' then
  local landed = redis.call('ZSCORE', KEYS[3], ARGV[7])
  if landed then
    -- a write, so that a WAIT after this reply covers the batch wherever it was written from
    redis.call('PERSIST', KEYS[3])
    return {2, tonumber(landed)}
  end
end
local current = redis.call('HGET', KEYS[1], 'version')
if not current then return {-1, -1} end
if tonumber(current) ~= tonumber(ARGV[1]) then return {0, tonumber(current)} end
local last = current
for i = 11, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[i] .. '-0', 'e', ARGV[i + 1])
  redis.call(ARGV[10], ARGV[4], ARGV[9] .. ARGV[i + 1])
  last = ARGV[i]
end
local title, features, at, by = string.match(ARGV[2], '^(.*)\\n(%d+)\\n([%d.]+)\\n(.*)$')
redis.call('HSET', KEYS[1], 'version', last, 'title', title, 'features', features, 'updated', at,
  'updated_by', by, 'used', at)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[5], 'snap_version', ARGV[6]) end
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('PERSIST', KEYS[4])
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[3], last, ARGV[7])
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[8]) - 1)
  redis.call('PERSIST', KEYS[3])
end
return {1, tonumber(last)}
"""

EVENTS_AFTER = """
local current = redis.call('HGET', KEYS[1], 'version')
if not current or tonumber(current) < tonumber(ARGV[1]) then return false end
return {tonumber(current), redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+')}
"""

# KEYS: map, log, the map's edit keys set. ARGV: ttl ms (0: kept, a map somebody drew on that is
# recreated), the edit key or '', then the hash's field/value pairs.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if ARGV[2] ~= '' then redis.call('SADD', KEYS[3], ARGV[2]) end
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return 1
"""

# A notice on a map's channel that is not an event. KEYS: the map (it routes the call to the map's
# slot, where a Cluster's sharded channel lives). ARGV: 'PUBLISH' or 'SPUBLISH', channel, message.
NOTICE = """
return redis.call(ARGV[1], ARGV[2], ARGV[3])
"""

# Who is on a map through one process: KEYS: the map's presence hash. ARGV: the sender, until (unix
# ms), the presence JSON, ttl ms, now (unix ms), the channel, the message (the sender's tag, a
# space, {"presence": ...}), 'PUBLISH' or 'SPUBLISH'. Fields of processes that stopped sharing
# (killed) are dropped once past their time; the hash itself expires when nobody shares.
PRESENCE = """
local now = tonumber(ARGV[5])
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local untilms = tonumber(string.match(fields[i + 1], '^%d+'))
  if fields[i] ~= ARGV[1] and (not untilms or untilms < now) then redis.call('HDEL', KEYS[1], fields[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call(ARGV[8], ARGV[6], ARGV[7])
return 1
"""

# Delete a map: KEYS: map, log, batches, presence, the map's edit keys set, its opened-by set.
# ARGV: 'PUBLISH' or 'SPUBLISH', channel, the notice. Replies the edit keys and who opened it.
DELETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local edits = redis.call('SMEMBERS', KEYS[5])
local opened = redis.call('SMEMBERS', KEYS[6])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call(ARGV[1], ARGV[2], ARGV[3])
return {edits, opened}
"""

# A map from a backup: KEYS: map, log, batches, edit keys set, opened-by set. ARGV: replace ('1'
# or ''), the number of hash field/value pairs n, the pairs, the number of edit keys m, the keys,
# the number of users k, the users, then (version, event JSON) pairs. 0 when it exists (and not
# replace).
RESTORE = """
if redis.call('EXISTS', KEYS[1]) == 1 and ARGV[1] == '' then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local i = 3
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, i, i + 2 * n - 1))
i = i + 2 * n
local m = tonumber(ARGV[i])
if m > 0 then redis.call('SADD', KEYS[4], unpack(ARGV, i + 1, i + m)) end
i = i + m + 1
local k = tonumber(ARGV[i])
if k > 0 then redis.call('SADD', KEYS[5], unpack(ARGV, i + 1, i + k)) end
i = i + k + 1
while i < #ARGV do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'e', ARGV[i + 1])
  i = i + 2
end
return 1
"""

CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], 'owner', ARGV[1])
return redis.call('HGET', KEYS[1], 'owner')
"""

# One client's rate limit (mapsrv.http.ratelimit.gcra, the same rule), on Redis's clock so that every
# process agrees. KEYS: the client's key. ARGV: interval s, burst, cost. Replies {1, "0"} when
# allowed, else {0, seconds to wait} (as text: Lua numbers reach the client as integers).
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local backlog = tonumber(redis.call('GET', KEYS[1]) or '0') - now
if backlog < 0 then backlog = 0 end
local wait = backlog + cost * interval - interval * burst
if wait > 0.000001 then return {0, tostring(wait)} end
backlog = backlog + cost * interval
redis.call('SET', KEYS[1], string.format('%.6f', now + backlog), 'PX', math.ceil(backlog * 1000) + 1)
return {1, '0'}
"""

# KEYS: an upload link's slot. ARGV: the state it must be in, then field, value pairs to set.
# A missing slot (expired) has no state: nothing is set.
UPLOAD_SWAP = """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""
