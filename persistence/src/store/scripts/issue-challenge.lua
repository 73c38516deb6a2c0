-- Issues a one-time code for (client app, email) in one atomic step: answers a retry with the
-- recorded answer (or refuses a reused idempotency key), refuses while the email is locked,
-- applies the per-email send limits, retires the code still live for the pair, stores the new
-- one (its MAC only), takes the email's limits and records the answer for retries.
-- KEYS[1] challenge key
-- ARGV: 1 P, 2 challenge id, 3 app id, 4 email digest, 5 email, 6 key id,
--       7 proof MACs as JSON {method: mac}, 8 now,
--       9 expires at, 10 retention ms, 11 max failures, 12 email cooldown ms (0: none),
--       13 email sends per hour, 14 guess weight, 15 refused until (0: not refused),
--       16 record key ("<op>:<key>") or "", 17 fingerprint, 18 sealed answer, 19 record ttl ms
-- Returns {"OK", superseded id or "", resend at} | {"REPLAY", sealed answer, resend at}
--       | {"EMAIL_LOCKED", retry at} | {"RATE_LIMITED", retry at} | {"IDEMPOTENCY_KEY_REUSED"}
local P, cid, app, d = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, exp = tonumber(ARGV[8]), tonumber(ARGV[9])
local retain, max_failures = tonumber(ARGV[10]), tonumber(ARGV[11])
local cooldown, per_hour = tonumber(ARGV[12]), tonumber(ARGV[13])

local rk = nil
if ARGV[16] ~= "" then
  rk = P .. "iq:" .. app .. ":" .. ARGV[16]
  local rec = redis.call("GET", rk)
  if rec then
    local r = cjson.decode(rec)
    if r.fp ~= ARGV[17] then
      return { "IDEMPOTENCY_KEY_REUSED" }
    end
    -- A code canceled because its email could not be queued no longer stands: issue anew.
    if redis.call("HGET", P .. "c:" .. r.cid, "st") ~= "n" then
      return { "REPLAY", r.v, r.ra }
    end
    redis.call("DEL", rk)
  end
end

local lock = locked_until(P .. "f:" .. d, now, max_failures)
if lock then
  return { "EMAIL_LOCKED", fmt(lock) }
end

-- The email's own limits live here, with the code, so that a retry on another replica after
-- a crash never finds a cooldown that a half-done first attempt set.
local cdk, hk = P .. "sc:" .. d, P .. "sh:" .. d
local retry = tonumber(ARGV[15])
local cd_until = tonumber(redis.call("GET", cdk) or "0")
if cd_until > now then
  retry = math.max(retry, cd_until)
end
local h = redis.call("HMGET", hk, "n", "r")
local sent, window_end = tonumber(h[1] or "0"), tonumber(h[2] or "0")
if window_end <= now then
  sent, window_end = 0, now + 3600000
end
if sent >= per_hour then
  retry = math.max(retry, window_end)
end
if retry > 0 then
  return { "RATE_LIMITED", fmt(retry) }
end

local live = P .. "l:" .. app .. ":" .. d
local old = redis.call("GET", live)
if old then
  local okey = P .. "c:" .. old
  if redis.call("HGET", okey, "st") == "p" then
    redis.call("HSET", okey, "st", "s")
    drop_proofs(okey)
  end
end

redis.call("HSET", KEYS[1], "app", app, "d", d, "em", ARGV[5], "kid", ARGV[6],
  "iss", ARGV[8], "exp", ARGV[9], "att", "0", "st", "p", "w", ARGV[14])
for method, mac in pairs(cjson.decode(ARGV[7])) do
  redis.call("HSET", KEYS[1], proof_field(method), mac)
end
redis.call("PEXPIREAT", KEYS[1], fmt(exp + retain))
redis.call("SET", live, cid, "PXAT", ARGV[9])

local resend = now
if cooldown > 0 then
  resend = now + cooldown
  redis.call("SET", cdk, fmt(resend), "PXAT", fmt(resend))
end
redis.call("HSET", hk, "n", fmt(sent + 1), "r", fmt(window_end))
redis.call("PEXPIREAT", hk, fmt(window_end))
if sent + 1 >= per_hour then
  resend = math.max(resend, window_end)
end

-- Erasure index: the keys of this email that nothing else leads to.
local e = P .. "e:" .. d
redis.call("SADD", e, "c:" .. cid, "l:" .. app .. ":" .. d, "sc:" .. d, "sh:" .. d)
extend(e, math.max(exp + retain, window_end))
if rk then
  redis.call("SET", rk, cjson.encode({ fp = ARGV[17], cid = cid, v = ARGV[18], ra = fmt(resend) }),
    "PX", ARGV[19])
  redis.call("SADD", e, "iq:" .. app .. ":" .. ARGV[16])
  extend(e, now + tonumber(ARGV[19]))
end
return { "OK", old or "", fmt(resend) }
