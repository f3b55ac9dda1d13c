-- A snapshot of the hosts for the heartbeat: each host's live leases (all replicas) and its down mark.
-- KEYS: per host, its lease set then its down mark
-- Returns {count1, mark1, count2, mark2, ...} (mark '' when none). Read only.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], now, '+inf')
  out[#out + 1] = redis.call('GET', KEYS[i + 1]) or ''
end
return out
