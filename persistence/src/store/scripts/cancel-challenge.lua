-- Retires a pending challenge that could not be sent.
-- KEYS[1] challenge key
-- ARGV: 1 P, 2 app id, 3 challenge id
-- Returns the email digest if the challenge was pending (and is now canceled), else false.
local r = redis.call("HMGET", KEYS[1], "app", "d", "st")
if not r[1] or r[1] ~= ARGV[2] or r[3] ~= "p" then
  return false
end
redis.call("HSET", KEYS[1], "st", "n")
redis.call("HDEL", KEYS[1], "mac")
local live = ARGV[1] .. "l:" .. ARGV[2] .. ":" .. r[2]
if redis.call("GET", live) == ARGV[3] then
  redis.call("DEL", live)
end
return r[2]
