-- Checks a presented proof (a typed code, a link token) in one atomic step: answers a retry
-- with the recorded outcome (or refuses a reused idempotency key), then counts the attempt,
-- compares, and either consumes the challenge, creates the user on the first login and opens
-- a session, or counts the failure (killing the challenge after its last attempt). Wrong, expired, used, retired and unknown codes
-- all give CODE_INVALID.
-- KEYS[1] challenge key (a key of the person's slot that need not exist when ARGV[14] is "")
-- ARGV: 1 P, 2 app id, 3 now, 4 MACs as JSON {kid: mac}, 5 max attempts, 6 max failures,
--       7 failure window ms, 8 new user id, 9 session id, 10 refresh token hash,
--       11 idle ttl ms, 12 max ttl ms, 13 user agent, 14 challenge id or "",
--       15 record key ("<op>:<key>") or "", 16 fingerprint, 17 sealed refresh token,
--       18 record ttl ms, 19 refused until (0: not refused), 20 login method of the proof
-- Returns {"OK", uid, email, created, new(0|1), sid, idle expires, expires, weight, prior failures}
--       | {"REPLAY", uid, email, created, new, sid, idle expires, expires, sealed token, at}
--       | {"CODE_INVALID"} (no attempt counted) | {"CODE_INVALID", weight} (a wrong guess)
--       | {"EMAIL_LOCKED", retry at} | {"RATE_LIMITED", retry at} | {"SESSION_INVALID"}
--       | {"IDEMPOTENCY_KEY_REUSED"}
local c = KEYS[1]
local P, app, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local max_attempts, max_failures = tonumber(ARGV[5]), tonumber(ARGV[6])

local rk = nil
if ARGV[15] ~= "" then
  rk = P .. "iq:" .. app .. ":" .. ARGV[15]
  local rec = redis.call("GET", rk)
  if rec then
    local r = cjson.decode(rec)
    if r.fp ~= ARGV[16] then
      return { "IDEMPOTENCY_KEY_REUSED" }
    end
    if r.ok ~= "1" then
      return { "CODE_INVALID" }
    end
    -- The answer stands while its session is live and its refresh token is still the current one.
    if session_stands(P, r.sid, r.rth, now) then
      return { "REPLAY", r.uid, r.em, r.uca, r.new, r.sid, r.ie, r.exp, r.rt, r.now }
    end
    return { "SESSION_INVALID" }
  end
end
if ARGV[19] ~= "0" then
  return { "RATE_LIMITED", ARGV[19] }
end
if ARGV[14] == "" then
  return { "CODE_INVALID" }
end

-- The proof is compared with its own method's only: a challenge without one (the app does
-- not use that method) cannot be passed with it.
local method = ARGV[20]
local r = redis.call("HMGET", c, "app", "d", "kid", proof_field(method), "exp", "st", "em", "w")
if not r[1] or r[1] ~= app then
  return { "CODE_INVALID" }
end
local d = r[2]
local fkey = P .. "f:" .. d
local lock = locked_until(fkey, now, max_failures)
if lock then
  return { "EMAIL_LOCKED", fmt(lock) }
end
if r[6] ~= "p" or tonumber(r[5]) <= now then
  return { "CODE_INVALID" }
end

local attempts = redis.call("HINCRBY", c, "att", 1)
local live = P .. "l:" .. app .. ":" .. d
local function close(state)
  redis.call("HSET", c, "st", state)
  drop_proofs(c)
  if redis.call("GET", live) == ARGV[14] then
    redis.call("DEL", live)
  end
end
local weight = r[8] or ""
local e = P .. "e:" .. d
local function record(outcome)
  if rk then
    outcome.fp = ARGV[16]
    redis.call("SET", rk, cjson.encode(outcome), "PX", ARGV[18])
    redis.call("SADD", e, "iq:" .. app .. ":" .. ARGV[15])
    extend(e, now + tonumber(ARGV[18]))
  end
end

local macs = cjson.decode(ARGV[4])
if not r[4] or macs[r[3]] ~= r[4] then
  count_failure(fkey, now, tonumber(ARGV[7]))
  if attempts >= max_attempts then
    close("x")
  end
  -- A retry of this very guess is answered from the record, not counted again.
  record({ ok = "0" })
  return { "CODE_INVALID", weight }
end

close("c")
redis.call("DEL", fkey)

local idx = P .. "idx:" .. d
local uid = redis.call("GET", idx)
local new_user = "0"
if not uid then
  uid = ARGV[8]
  redis.call("SET", idx, uid)
  redis.call("HSET", P .. "u:" .. uid, "id", uid, "em", r[7], "d", d, "ca", ARGV[3])
  new_user = "1"
end
local ukey = P .. "u:" .. uid
redis.call("HSET", ukey, "ll", ARGV[3])
local u = redis.call("HMGET", ukey, "em", "ca")

local sid = ARGV[9]
local exp = now + tonumber(ARGV[12])
local idle = math.min(now + tonumber(ARGV[11]), exp)
local skey = P .. "s:" .. sid
redis.call("HSET", skey, "uid", uid, "app", app, "ca", ARGV[3], "ref", ARGV[3], "ie", fmt(idle),
  "exp", fmt(exp), "ua", ARGV[13], "lm", method)
redis.call("PEXPIREAT", skey, fmt(idle))
redis.call("SET", P .. "rt:" .. ARGV[10], sid, "PXAT", fmt(idle))
local sr = P .. "sr:" .. sid
redis.call("SADD", sr, ARGV[10])
redis.call("PEXPIREAT", sr, fmt(exp))
local us = P .. "us:" .. uid
redis.call("SADD", us, sid)
extend(us, exp)
record({ ok = "1", uid = uid, em = u[1], uca = u[2], new = new_user, sid = sid, now = ARGV[3],
  ie = fmt(idle), exp = fmt(exp), rt = ARGV[17], rth = ARGV[10] })
return { "OK", uid, u[1], u[2], new_user, sid, fmt(idle), fmt(exp), weight, fmt(attempts - 1) }
