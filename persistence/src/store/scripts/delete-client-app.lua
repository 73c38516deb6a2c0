-- Removes an app and its current key.
-- KEYS[1] app key, KEYS[2] set of all apps
-- ARGV: 1 apps prefix, 2 app id
-- Returns 1 if the app existed, else 0.
local kh = redis.call("HGET", KEYS[1], "kh")
if not kh then
  return 0
end
redis.call("DEL", ARGV[1] .. "k:" .. kh, KEYS[1])
redis.call("SREM", KEYS[2], ARGV[2])
return 1
