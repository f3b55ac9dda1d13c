-- Extends loading marks that still name the host this replica's cold request went to.
-- KEYS: the loading marks. ARGV: 1 the mark's ms, then per key: the host it must name.
-- Returns how many were extended.
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]))
    n = n + 1
  end
end
return n
