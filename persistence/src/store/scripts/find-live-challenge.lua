-- The pending challenge of (app, email) and the guess weight of its code, in one round trip.
-- KEYS[1] live pointer key
-- ARGV: 1 P
-- Returns {challenge id, weight} or false.
local cid = redis.call("GET", KEYS[1])
if not cid then
  return false
end
return { cid, redis.call("HGET", ARGV[1] .. "c:" .. cid, "w") or "" }
