-- Adds one answered request to a UTC day's usage, shared by every replica.
-- KEYS[1]  the day's hash; fields "<client>\t<model>\t<counter>"
-- ARGV     client, model, prompt tokens, completion tokens, cache hits, retention in seconds
local base = ARGV[1] .. '\t' .. ARGV[2] .. '\t'
redis.call('HINCRBY', KEYS[1], base .. 'requests', 1)
redis.call('HINCRBY', KEYS[1], base .. 'prompt_tokens', ARGV[3])
redis.call('HINCRBY', KEYS[1], base .. 'completion_tokens', ARGV[4])
redis.call('HINCRBY', KEYS[1], base .. 'cache_hits', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1}
