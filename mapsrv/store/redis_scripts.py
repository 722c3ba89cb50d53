"""The Lua scripts of ``RedisStore``, one per atomic step (the key layout and what each step
guarantees are at the top of mapsrv/store/redis.py)."""

__all__ = ["CLAIM", "COMMIT", "CREATE", "EVENTS_AFTER"]

# KEYS: map, log, batches. ARGV: expected version, ttl ms, log size, channel, snapshot JSON or
# '', snapshot version, batch id or '', batch memory, then (version, event JSON) pairs.
COMMIT = """
if ARGV[7] ~= '' then
  local landed = redis.call('ZSCORE', KEYS[3], ARGV[7])
  if landed then return {2, tonumber(landed)} end
end
local current = redis.call('HGET', KEYS[1], 'version')
if not current then return {-1, -1} end
if tonumber(current) ~= tonumber(ARGV[1]) then return {0, tonumber(current)} end
local last = current
for i = 9, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[i] .. '-0', 'e', ARGV[i + 1])
  redis.call('PUBLISH', ARGV[4], ARGV[i + 1])
  last = ARGV[i]
end
redis.call('HSET', KEYS[1], 'version', last)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[5], 'snap_version', ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[3], last, ARGV[7])
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[8]) - 1)
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
return {1, tonumber(last)}
"""

EVENTS_AFTER = """
local current = redis.call('HGET', KEYS[1], 'version')
if not current or tonumber(current) < tonumber(ARGV[1]) then return false end
return {tonumber(current), redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+')}
"""

CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], 'owner', ARGV[1])
return redis.call('HGET', KEYS[1], 'owner')
"""
