-- Issues a one-time code for (client app, email): refuses while the email is locked, retires
-- the code still live for the pair, stores the new one (its MAC only).
-- KEYS[1] challenge key
-- ARGV: 1 P, 2 challenge id, 3 app id, 4 email digest, 5 email, 6 key id, 7 mac, 8 now,
--       9 expires at, 10 retention ms, 11 max failures, 12 replay key or "",
--       13 replay value, 14 replay ttl ms
-- Returns {"OK", superseded id or ""} | {"EMAIL_LOCKED", retry at}
local P, cid, app, d = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, exp = tonumber(ARGV[8]), tonumber(ARGV[9])
local retain, max_failures = tonumber(ARGV[10]), tonumber(ARGV[11])

local lock = locked_until(P .. "f:" .. d, now, max_failures)
if lock then
  return { "EMAIL_LOCKED", fmt(lock) }
end

local live = P .. "l:" .. app .. ":" .. d
local old = redis.call("GET", live)
if old then
  local okey = P .. "c:" .. old
  if redis.call("HGET", okey, "st") == "p" then
    redis.call("HSET", okey, "st", "s")
    redis.call("HDEL", okey, "mac")
  end
end

redis.call("HSET", KEYS[1], "app", app, "d", d, "em", ARGV[5], "kid", ARGV[6], "mac", ARGV[7],
  "iss", ARGV[8], "exp", ARGV[9], "att", "0", "st", "p")
redis.call("PEXPIREAT", KEYS[1], fmt(exp + retain))
redis.call("SET", live, cid, "PXAT", ARGV[9])

-- Erasure index: the keys of this email that nothing else leads to.
local e = P .. "e:" .. d
redis.call("SADD", e, "c:" .. cid, "l:" .. app .. ":" .. d)
extend(e, exp + retain)
if ARGV[12] ~= "" then
  local rk = P .. "iq:" .. app .. ":" .. ARGV[12]
  redis.call("SET", rk, ARGV[13], "PX", ARGV[14])
  redis.call("SADD", e, "iq:" .. app .. ":" .. ARGV[12])
end
return { "OK", old or "" }
