-- One client's rate limits, shared by every replica: the buckets of RateLimiter.java, on the server's clock.
-- KEYS[1]  the client's hash: req, tok (bucket levels), ts (last refill, microseconds), day (UTC day number),
--          dtok (tokens used that day), lrpm, ltpm (the limits seen last), avg (tokens per request, averaged)
-- ARGV     mode ("admit" or "settle"), requests_per_minute, tokens_per_minute, tokens_per_day, ttl seconds,
--          then admit: the first estimate; settle: tokens minus pre-paid, measured (1/0), tokens reported
-- admit answers {allowed (1/0), requests left, tokens left, tokens used today, tokens pre-paid, seconds to the
-- next UTC day}; settle answers the same with allowed = 1 and nothing pre-paid.
local mode = ARGV[1]
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tpd = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local time = redis.call('TIME')
local seconds = tonumber(time[1])
local now = seconds * 1000000 + tonumber(time[2])
local day = math.floor(seconds / 86400)
local s = redis.call('HMGET', KEYS[1], 'req', 'tok', 'ts', 'day', 'dtok', 'lrpm', 'ltpm', 'avg')
local req, tok, dtok, avg
if not s[3] then
  -- A client seen for the first time (or idle past the key's expiry) starts with full buckets.
  req, tok, dtok, avg = rpm, tpm, 0, 0
else
  req, tok, dtok, avg = tonumber(s[1]), tonumber(s[2]), tonumber(s[5]), tonumber(s[8])
  -- A limit a reload turned on starts full; a lowered one caps what is left (below).
  if tonumber(s[6]) == 0 then req = rpm end
  if tonumber(s[7]) == 0 then tok = tpm end
  local elapsed = math.max(0, now - tonumber(s[3]))
  req = math.min(rpm, req + elapsed * rpm / 60e6)
  tok = math.min(tpm, tok + elapsed * tpm / 60e6)
  if tonumber(s[4]) ~= day then dtok = 0 end
end

local function take(n)
  if tpm > 0 then tok = math.max(-60 * tpm, tok - n) end
  dtok = math.max(0, dtok + n)
end

local allowed = 1
local reserved = 0
if mode == 'admit' then
  if (rpm > 0 and req < 1) or (tpm > 0 and tok <= 0) or (tpd > 0 and dtok >= tpd) then
    allowed = 0
  else
    if rpm > 0 then req = req - 1 end
    if tpm > 0 or tpd > 0 then
      if avg > 0 then reserved = math.max(1, math.floor(avg + 0.5)) else reserved = tonumber(ARGV[6]) end
      take(reserved)
    end
  end
else
  take(tonumber(ARGV[6]))
  if ARGV[7] == '1' then
    local tokens = math.max(0, tonumber(ARGV[8]))
    if avg == 0 then avg = math.max(1, tokens) else avg = 0.8 * avg + 0.2 * tokens end
  end
end
redis.call('HSET', KEYS[1], 'req', tostring(req), 'tok', tostring(tok), 'ts', string.format('%.0f', now),
  'day', tostring(day), 'dtok', string.format('%.0f', dtok), 'lrpm', tostring(rpm), 'ltpm', tostring(tpm),
  'avg', tostring(avg))
redis.call('EXPIRE', KEYS[1], ttl)
return {allowed, tostring(req), tostring(tok), string.format('%.0f', dtok), reserved,
  (day + 1) * 86400 - seconds}
