-- Gives an app a new key; the old one works for the grace period, then stops.
-- KEYS[1] app key
-- ARGV: 1 apps prefix, 2 new key hash, 3 new key prefix, 4 grace ms, 5 now
-- Returns the app hash as a flat list, or an empty list if there is no such app.
local id = redis.call("HGET", KEYS[1], "id")
if not id then
  return {}
end
local old = redis.call("HGET", KEYS[1], "kh")
local old_key = ARGV[1] .. "k:" .. old
if tonumber(ARGV[4]) > 0 then
  redis.call("PEXPIRE", old_key, ARGV[4])
else
  redis.call("DEL", old_key)
end
redis.call("SET", ARGV[1] .. "k:" .. ARGV[2], id)
redis.call("HSET", KEYS[1], "kh", ARGV[2], "kp", ARGV[3], "ua", ARGV[5])
return redis.call("HGETALL", KEYS[1])
