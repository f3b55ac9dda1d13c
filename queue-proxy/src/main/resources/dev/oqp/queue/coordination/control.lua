-- Records a tier's queue control unless a later one is recorded already (a control given while a replica was cut
-- off from the backend must not undo one given since through another replica).
-- KEYS: 1 the controls hash. ARGV: 1 tier, 2 value: '<state>\n<ms>\n<digest>' (state paused | draining | running)
-- Returns 1 when written, 0 when the recorded control is later.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local at = tonumber(string.match(current, '^[^\n]*\n(%d+)'))
  local mine = tonumber(string.match(ARGV[2], '^[^\n]*\n(%d+)'))
  if at and mine and at > mine then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
