-- Moves a running lease from one host's set to another's (a failover), with its expiry in the global set; no cap
-- check: a failover over-commits one slot as on one process. Tells every replica a slot is free on the first host.
-- KEYS: 1 the global set, 2 the host set it leaves, 3 the host set it joins, 4 the (host, model) set it leaves,
--       5 the (host, model) set it joins
-- ARGV: 1 lease id, 2 freed channel, 3 replica id, 4 '1' when it is in the (host, model) set it leaves,
--       5 '1' when the host it joins caps its model
-- Returns 1 when moved, 0 when the lease is no longer running (released or expired: it is in no host set then).
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[4], ARGV[1])
end
if not expiry then
  return 0
end
redis.call('ZADD', KEYS[3], expiry, ARGV[1])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[5], expiry, ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
