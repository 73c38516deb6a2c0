-- Retires a pending challenge that could not be sent, and gives back the email's send limits
-- it took (the cooldown, and its place in the hourly count). An expired code is left alone:
-- its send is long done, and giving it back would let a late retry send more than the limits.
-- KEYS[1] challenge key
-- ARGV: 1 P, 2 app id, 3 challenge id, 4 now
-- Returns the email digest if the challenge was pending (and is now canceled), else false.
local r = redis.call("HMGET", KEYS[1], "app", "d", "st", "exp")
if not r[1] or r[1] ~= ARGV[2] or r[3] ~= "p" or tonumber(r[4]) <= tonumber(ARGV[4]) then
  return false
end
local P, d = ARGV[1], r[2]
redis.call("HSET", KEYS[1], "st", "n")
drop_proofs(KEYS[1])
local live = P .. "l:" .. ARGV[2] .. ":" .. d
if redis.call("GET", live) == ARGV[3] then
  redis.call("DEL", live)
end
redis.call("DEL", P .. "sc:" .. d)
local hk = P .. "sh:" .. d
if tonumber(redis.call("HGET", hk, "n") or "0") > 0 then
  redis.call("HINCRBY", hk, "n", -1)
end
return d
