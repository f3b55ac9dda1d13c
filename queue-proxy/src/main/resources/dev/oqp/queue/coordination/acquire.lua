-- Takes a slot of the global cap, of the client and of one candidate host for one request, all or none.
-- KEYS: 1 global set, 2 client set, 3 waiting index, 4 waiter data, 5 incarnations, 6.. candidate host sets,
--       then, for a cold model only, its loading mark, then per candidate host its (host, model) set
-- ARGV: 1 lease ms, 2 lease id, 3 waiter id, 4 tier offset ms, 5 client, 6 client cap (0 = none),
--       7 global cap, 8 scan limit, 9 waiter data, 10 key prefix, 11 the epoch the caller knows ('' = no check),
--       12 fair-share spacing ms, 13 the client's fair-share field (client and tier), 14 the tier's max_wait ms,
--       then per candidate host: name, cap, then, for a cold model only, the loading mark's ms,
--       then per candidate host: its cap for the request's model (0 = none; its (host, model) set is then untouched),
--       and last the global slots that must stay free after this grant (reserved for others; 0 = none)
-- Returns {1, host} when granted, {0} when not (the waiter is then registered, ranked by its score),
-- {-1} when the epoch is not the caller's (the server lost its data since: the caller re-enters first).
-- Score (rank, lowest first): tier offset + the waiter's fair-share start, taken once when it first asks: the later
-- of now and its client's previous start in that tier + spacing, so a client's backlog (over every replica and
-- model) interleaves with other clients' requests instead of going ahead of them (start-time fair queueing).
-- Cold model (loaded on no candidate): when its loading mark names a candidate, only that host is granted (the
-- request waits for it rather than load the model elsewhere); else the granted host is marked as loading it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leaseMs, leaseId, waiterId = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local client, clientCap, globalCap = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local prefix = ARGV[10]
local keepFree = tonumber(ARGV[#ARGV])
local argc = #ARGV - 1
if ARGV[11] ~= '' and redis.call('GET', prefix .. 'epoch') ~= ARGV[11] then
  return {-1}
end

local mine = redis.call('ZSCORE', KEYS[3], waiterId)
local score
if mine then
  score = tonumber(mine)
else
  -- A previous start further ahead than the tier's max_wait is capped there (its waiters are gone by then), and a
  -- start at least one spacing in the past says nothing any more: removed, so the set holds only busy clients.
  local fairKey, spacing = prefix .. 'fair', tonumber(ARGV[12])
  local previous = tonumber(redis.call('ZSCORE', fairKey, ARGV[13]) or '0')
  local start = math.max(now, math.min(previous, now + tonumber(ARGV[14])) + spacing)
  redis.call('ZADD', fairKey, start, ARGV[13])
  redis.call('ZREMRANGEBYSCORE', fairKey, '-inf', now - spacing)
  score = start + tonumber(ARGV[4])
end

local function wait()
  redis.call('ZADD', KEYS[3], 'NX', score, waiterId)
  redis.call('HSET', KEYS[4], waiterId, ARGV[9])
  return {0}
end

local function count(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end

local globalFree = globalCap - count(KEYS[1])
local clientUsed = {}
clientUsed[client] = count(KEYS[2])
if globalFree <= 0 or globalFree - 1 < keepFree or (clientCap > 0 and clientUsed[client] >= clientCap) then
  return wait()
end
local hosts, free = {}, {}
local n = math.floor((argc - 14) / 3)
local cold = argc - 14 - 3 * n
local loadingKey, loadingMs, only = nil, 0, nil
if cold == 1 then
  loadingKey, loadingMs = KEYS[6 + n], tonumber(ARGV[15 + 2 * n])
  only = redis.call('GET', loadingKey) or nil
end
-- The (host, model) caps: a host at its cap for this model is full for this request only.
local modelFree = {}
for i = 1, n do
  local modelCap = tonumber(ARGV[14 + 2 * n + cold + i])
  modelFree[i] = modelCap <= 0 or count(KEYS[5 + n + cold + i]) < modelCap
end
for i = 1, n do
  local name, cap = ARGV[13 + 2 * i], tonumber(ARGV[14 + 2 * i])
  hosts[i] = name
  free[name] = cap - count(KEYS[5 + i])
end
if only then
  local candidate = false
  for i = 1, n do
    if hosts[i] == only then candidate = true end
  end
  -- A mark on a host this replica cannot use (down, or without the model) does not hold the request.
  if not candidate then only = nil end
end

-- Better-ranked waiters of live replicas claim, in rank order, a slot they could use among these hosts.
local better = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', score, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[8]))
for j = 1, #better, 2 do
  local other, otherScore = better[j], tonumber(better[j + 1])
  if other ~= waiterId and (otherScore < score or other < waiterId) then
    local data = redis.call('HGET', KEYS[4], other)
    local fields = {}
    if data then
      for f in string.gmatch(data, '[^\n]+') do fields[#fields + 1] = f end
    end
    local alive = #fields >= 4 and tonumber(redis.call('ZSCORE', KEYS[5], fields[1]) or '0') > now
    if not alive then
      redis.call('ZREM', KEYS[3], other)
      redis.call('HDEL', KEYS[4], other)
    else
      local otherClient, otherCap = fields[2], tonumber(fields[3])
      if clientUsed[otherClient] == nil then
        clientUsed[otherClient] = count(prefix .. 'client:' .. otherClient)
      end
      if globalFree > 0 and (otherCap <= 0 or clientUsed[otherClient] < otherCap) then
        for h in string.gmatch(fields[4], '[^,]+') do
          if free[h] ~= nil and free[h] > 0 then
            free[h] = free[h] - 1
            globalFree = globalFree - 1
            clientUsed[otherClient] = clientUsed[otherClient] + 1
            break
          end
        end
      end
    end
  end
end

if globalFree <= 0 or globalFree - 1 < keepFree or (clientCap > 0 and clientUsed[client] >= clientCap) then
  return wait()
end
for i = 1, n do
  if free[hosts[i]] > 0 and modelFree[i] and (only == nil or hosts[i] == only) then
    local expiry = now + leaseMs
    if loadingKey and only == nil then
      redis.call('SET', loadingKey, hosts[i], 'PX', loadingMs)
    end
    redis.call('ZADD', KEYS[1], expiry, leaseId)
    redis.call('ZADD', KEYS[2], expiry, leaseId)
    redis.call('ZADD', KEYS[5 + i], expiry, leaseId)
    if tonumber(ARGV[14 + 2 * n + cold + i]) > 0 then
      redis.call('ZADD', KEYS[5 + n + cold + i], expiry, leaseId)
    end
    redis.call('ZREM', KEYS[3], waiterId)
    redis.call('HDEL', KEYS[4], waiterId)
    return {1, hosts[i]}
  end
end
return wait()
