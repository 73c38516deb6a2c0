-- Erases a person: sessions and their tokens, the user record, the email index, the failure
-- counter, and every code and live pointer of the email (through the erasure index).
-- KEYS[1] user key
-- ARGV: 1 P, 2 user id
-- Returns the email digest, or false if there was no such user.
local P, uid = ARGV[1], ARGV[2]
local d = redis.call("HGET", KEYS[1], "d")
if not d then
  return false
end
local us = P .. "us:" .. uid
for _, sid in ipairs(redis.call("SMEMBERS", us)) do
  revoke_session(P, sid)
end
local e = P .. "e:" .. d
for _, suffix in ipairs(redis.call("SMEMBERS", e)) do
  redis.call("DEL", P .. suffix)
end
local idx = P .. "idx:" .. d
if redis.call("GET", idx) == uid then
  redis.call("DEL", idx)
end
redis.call("DEL", us, e, P .. "f:" .. d, KEYS[1])
return d
