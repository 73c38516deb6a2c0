-- The pending challenge of (app, email), with what decides whether its code can be guessed,
-- in one round trip.
-- KEYS[1] live pointer key
-- ARGV: 1 P
-- Returns {challenge id, app, state, expires, weight} or false.
local cid = redis.call("GET", KEYS[1])
if not cid then
  return false
end
local c = redis.call("HMGET", ARGV[1] .. "c:" .. cid, "app", "st", "exp", "w")
return { cid, c[1] or "", c[2] or "", c[3] or "0", c[4] or "" }
