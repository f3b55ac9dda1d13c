-- Moves a running lease from one host's set to another's (a failover), with its expiry in the global set; no cap
-- check: a failover over-commits one slot as on one process. Tells every replica a slot is free on the first host.
-- KEYS: 1 the global set, 2 the host set it leaves, 3 the host set it joins. ARGV: 1 lease id, 2 freed channel,
-- 3 replica id
-- Returns 1 when moved, 0 when the lease is no longer running (released or expired: it is in no host set then).
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not expiry then
  return 0
end
redis.call('ZADD', KEYS[3], expiry, ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
