-- Changes fields of an existing app (never creates one).
-- KEYS[1] app key
-- ARGV: field, value, field, value, ...
-- Returns the app hash as a flat list, or an empty list if there is no such app.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return {}
end
redis.call("HSET", KEYS[1], unpack(ARGV))
return redis.call("HGETALL", KEYS[1])
