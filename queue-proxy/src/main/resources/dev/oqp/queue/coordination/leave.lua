-- A replica that stops: gives back its leases, forgets its waiters and leaves the replicas, so the others
-- see it gone at once rather than after a lease or three heartbeats.
-- KEYS: 1 replicas, 2 replica data, 3 incarnations, 4 waiting index, 5 waiter data, 6 global set
-- ARGV: 1 replica id, 2 incarnation, 3 key prefix, 4 freed channel, 5 lease count n,
--       then n × (lease id, host, client, model ('' = no (host, model) slot)), then waiter ids
-- Returns how many leases were given back.
local prefix, n, released = ARGV[3], tonumber(ARGV[5]), 0
for i = 6, 5 + 4 * n, 4 do
  released = released + redis.call('ZREM', KEYS[6], ARGV[i])
  redis.call('ZREM', prefix .. 'host:' .. ARGV[i + 1], ARGV[i])
  redis.call('ZREM', prefix .. 'client:' .. ARGV[i + 2], ARGV[i])
  if ARGV[i + 3] ~= '' then redis.call('ZREM', prefix .. 'host-model:' .. ARGV[i + 1] .. ':' .. ARGV[i + 3], ARGV[i]) end
end
for i = 6 + 4 * n, #ARGV do
  redis.call('ZREM', KEYS[4], ARGV[i])
  redis.call('HDEL', KEYS[5], ARGV[i])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return released
