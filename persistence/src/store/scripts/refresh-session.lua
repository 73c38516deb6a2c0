-- Rotates a refresh token in one atomic step: answers a retry with the recorded outcome (or
-- refuses a reused idempotency key), then rotates. The presented token is kept, marked as
-- used, until the session's end: presenting it again is reuse (a stolen token, or a replay
-- without its key), and revokes the session.
-- KEYS[1] token key
-- ARGV: 1 P, 2 new token hash, 3 app id, 4 now, 5 idle ttl ms, 6 record key ("<op>:<key>")
--       or "", 7 fingerprint, 8 sealed new token, 9 record ttl ms
-- Returns {"SESSION_INVALID"} | {"REFRESH_TOKEN_REUSED", sid, uid} | {"IDEMPOTENCY_KEY_REUSED"}
--       | {"OK", sid, uid, created, idle expires, expires, user agent, login method}
--       | {"REPLAY", sid, uid, created, idle expires, expires, user agent, sealed token, at,
--          login method}
-- (login method: "" for sessions from before methods existed, which were codes)
local P, app, now = ARGV[1], ARGV[3], tonumber(ARGV[4])

local rk = nil
if ARGV[6] ~= "" then
  rk = "iq:" .. app .. ":" .. ARGV[6]
  local rec = redis.call("GET", P .. rk)
  if rec then
    local r = cjson.decode(rec)
    if r.fp ~= ARGV[7] then
      return { "IDEMPOTENCY_KEY_REUSED" }
    end
    if session_stands(P, r.sid, r.rth, now) then
      return { "REPLAY", r.sid, r.uid, r.ca, r.ie, r.exp, r.ua, r.rt, r.now, r.lm or "" }
    end
    return { "SESSION_INVALID" }
  end
end

local v = redis.call("GET", KEYS[1])
if not v then
  return { "SESSION_INVALID" }
end
local sid, used = v, false
if string.sub(v, -4) == ":old" then
  sid, used = string.sub(v, 1, -5), true
end
local skey = P .. "s:" .. sid
local s = redis.call("HMGET", skey, "uid", "app", "ca", "ie", "exp", "ua", "lm")
-- Another app's token changes nothing: it is simply not valid here.
if not s[1] or s[2] ~= app then
  return { "SESSION_INVALID" }
end
if used then
  revoke_session(P, sid)
  return { "REFRESH_TOKEN_REUSED", sid, s[1] }
end
local exp = tonumber(s[5])
if tonumber(s[4]) <= now or exp <= now then
  return { "SESSION_INVALID" }
end
redis.call("SET", KEYS[1], sid .. ":old", "PXAT", s[5])
local idle = math.min(now + tonumber(ARGV[5]), exp)
redis.call("SET", P .. "rt:" .. ARGV[2], sid, "PXAT", fmt(idle))
redis.call("SADD", P .. "sr:" .. sid, ARGV[2])
redis.call("HSET", skey, "ref", ARGV[4], "ie", fmt(idle))
redis.call("PEXPIREAT", skey, fmt(idle))
if rk then
  redis.call("SET", P .. rk, cjson.encode({ fp = ARGV[7], sid = sid, uid = s[1], ca = s[3],
    ie = fmt(idle), exp = s[5], ua = s[6], lm = s[7] or "", now = ARGV[4], rt = ARGV[8],
    rth = ARGV[2] }), "PX", ARGV[9])
  -- In the person's erasure index, so that deleting the user forgets it too.
  local d = redis.call("HGET", P .. "u:" .. s[1], "d")
  if d then
    redis.call("SADD", P .. "e:" .. d, rk)
    extend(P .. "e:" .. d, now + tonumber(ARGV[9]))
  end
end
return { "OK", sid, s[1], s[3], fmt(idle), s[5], s[6], s[7] or "" }
