-- Records this replica as alive until now + ARGV[2] ms, sweeps the replicas and incarnations past their
-- expiry, and lists the live replicas.
-- Keeps the epoch: a random value set once, so a server that lost its data (restart, failover, flush) has a
-- new one and the replicas notice.
-- Sweeps about 100 waiters per call (a cursor over the waiter data) whose incarnation is not alive.
-- KEYS: 1 replicas (id -> expiry), 2 replica data (id -> digest and start), 3 incarnations (-> expiry), 4 epoch,
--       5 waiting index, 6 waiter data, 7 sweep cursor
-- ARGV: 1 replica id, 2 ttl ms, 3 data, 4 incarnation, 5 an epoch to set if there is none,
--       6 this replica's previous incarnation ('' = none: removed, its waiters count as dead at once)
-- Returns {now, epoch, other live incarnations of this replica id, id1, expiry1, data1, id2, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = now + tonumber(ARGV[2])
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('HDEL', KEYS[2], gone)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], expiry, ARGV[4])
if ARGV[6] and ARGV[6] ~= '' and ARGV[6] ~= ARGV[4] then
  redis.call('ZREM', KEYS[3], ARGV[6])
end
if KEYS[7] then
  local scan = redis.call('HSCAN', KEYS[6], redis.call('GET', KEYS[7]) or '0', 'COUNT', 100)
  redis.call('SET', KEYS[7], scan[1])
  for i = 1, #scan[2], 2 do
    local owner = string.match(scan[2][i + 1], '^[^\n]*')
    if tonumber(redis.call('ZSCORE', KEYS[3], owner) or '0') <= now then
      redis.call('ZREM', KEYS[5], scan[2][i])
      redis.call('HDEL', KEYS[6], scan[2][i])
    end
  end
end
local twins = 0
for _, other in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if other ~= ARGV[4] and string.sub(other, 1, #ARGV[1] + 1) == ARGV[1] .. '@' then
    twins = twins + 1
  end
end
local epoch = ''
if KEYS[4] then
  redis.call('SET', KEYS[4], ARGV[5], 'NX')
  epoch = redis.call('GET', KEYS[4])
end
local out = {now, epoch, twins}
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
end
return out
