-- Resolves an API key hash to its app record in one round trip.
-- KEYS[1] key-hash key
-- ARGV: 1 apps prefix ("<prefix>{apps}:")
-- Returns the app hash as a flat list, or an empty list.
local id = redis.call("GET", KEYS[1])
if not id then
  return {}
end
return redis.call("HGETALL", ARGV[1] .. "a:" .. id)
