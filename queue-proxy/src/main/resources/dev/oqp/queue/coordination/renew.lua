-- Extends this replica's leases by one lease from now; with ARGV[3] = 'adopt' adds any that are missing
-- (leases taken while degraded, or lost with the server's data) without checking a cap.
-- KEYS: 1 global set. ARGV: 1 lease ms, 2 key prefix, 3 'renew' | 'adopt', then per lease: id, host, client,
-- model ('' = the lease holds no (host, model) slot)
-- Returns the ids of the leases that were missing from the global set.
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local prefix, adopt, missing = ARGV[2], ARGV[3] == 'adopt', {}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  local keys = {KEYS[1], prefix .. 'host:' .. ARGV[i + 1], prefix .. 'client:' .. ARGV[i + 2]}
  if ARGV[i + 3] ~= '' then keys[4] = prefix .. 'host-model:' .. ARGV[i + 1] .. ':' .. ARGV[i + 3] end
  if not redis.call('ZSCORE', KEYS[1], id) then missing[#missing + 1] = id end
  for _, key in ipairs(keys) do
    if adopt then
      redis.call('ZADD', key, expiry, id)
    else
      redis.call('ZADD', key, 'XX', expiry, id)
    end
  end
end
return missing
