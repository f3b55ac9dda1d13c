-- Moves a running lease from one host's set to another's (a failover), keeping its expiry; no cap check: a
-- failover over-commits one slot as on one process. Tells every replica a slot is free on the first host.
-- KEYS: 1 the host set it leaves, 2 the host set it joins. ARGV: 1 lease id, 2 freed channel, 3 replica id
-- Returns 1 when moved, 0 when the lease was not in the first set (expired or released).
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], expiry, ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
