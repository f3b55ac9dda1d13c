-- Removes a waiter that left (dispatched elsewhere, expired, cancelled, flushed).
-- KEYS: 1 waiting index, 2 waiter data. ARGV: 1 waiter id
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
