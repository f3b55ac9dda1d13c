-- Gives a lease back and tells every replica a slot is free.
-- KEYS: 1 global set, 2 host set, 3 client set, 4 (host, model) set when the lease holds one.
-- ARGV: 1 lease id, 2 freed channel, 3 replica id
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if #KEYS >= 4 then redis.call('ZREM', KEYS[4], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return removed
